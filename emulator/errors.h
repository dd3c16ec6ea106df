/* errors.h -- every AWS error the emulator can answer with, as data.
 *
 * One row per error: the enum name, the error code clients match on (the JSON protocol's
 * __type shape name, S3's and EC2's <Code>), the Query protocol's <Code> where it differs
 * (SQS's legacy AWS.SimpleQueueService.* codes, which the JSON protocol also carries in the
 * x-amzn-query-error header), the HTTP status, whether the sender or the receiver is at fault,
 * and the JSON namespace when it is not the service's own (DynamoDB's validation errors come
 * from the coral framework, not from the service).
 */
#ifndef DSS_ERRORS_H
#define DSS_ERRORS_H

#include <stddef.h>

#define CORAL_VALIDATE "com.amazon.coral.validate#"
#define CORAL_SERVICE "com.amazon.coral.service#"

/*   id                            code                                query code (NULL: same)                    status fault ns */
#define DSS_ERROR_TABLE(X) \
    X(InternalFailure,             "InternalFailure",                  NULL,                                       500, 0, NULL) \
    X(ServiceUnavailable,          "ServiceUnavailable",               NULL,                                       503, 0, NULL) \
    X(UnknownOperation,            "UnknownOperationException",        "InvalidAction",                            400, 1, CORAL_SERVICE) \
    X(InvalidAction,               "InvalidAction",                    NULL,                                       400, 1, NULL) \
    X(MissingParameter,            "MissingParameter",                 NULL,                                       400, 1, NULL) \
    X(MissingAction,               "MissingAction",                    NULL,                                       400, 1, NULL) \
    X(InvalidParameterValue,       "InvalidParameterValue",            NULL,                                       400, 1, NULL) \
    X(InvalidParameterCombination, "InvalidParameterCombination",      NULL,                                       400, 1, NULL) \
    X(InvalidQueryParameter,       "InvalidQueryParameter",            NULL,                                       400, 1, NULL) \
    X(MalformedQueryString,        "MalformedQueryString",             NULL,                                       400, 1, NULL) \
    X(ValidationException,         "ValidationException",              "ValidationError",                          400, 1, CORAL_VALIDATE) \
    X(SerializationException,      "SerializationException",           "MalformedInput",                           400, 1, CORAL_SERVICE) \
    X(RequestEntityTooLarge,       "RequestEntityTooLarge",            NULL,                                       413, 1, NULL) \
    X(ThrottlingException,         "ThrottlingException",              "Throttling",                               400, 1, NULL) \
    X(AccessDenied,                "AccessDeniedException",            "AccessDenied",                             400, 1, NULL) \
    /* SQS */ \
    X(QueueDoesNotExist,           "QueueDoesNotExist",                "AWS.SimpleQueueService.NonExistentQueue",  400, 1, NULL) \
    X(QueueNameExists,             "QueueNameExists",                  "QueueAlreadyExists",                       400, 1, NULL) \
    X(QueueDeletedRecently,        "QueueDeletedRecently",             "AWS.SimpleQueueService.QueueDeletedRecently", 400, 1, NULL) \
    X(ReceiptHandleIsInvalid,      "ReceiptHandleIsInvalid",           NULL,                                       400, 1, NULL) \
    X(MessageNotInflight,          "MessageNotInflight",               "AWS.SimpleQueueService.MessageNotInflight", 400, 1, NULL) \
    X(InvalidAttributeName,        "InvalidAttributeName",             NULL,                                       400, 1, NULL) \
    X(InvalidAttributeValue,       "InvalidAttributeValue",            NULL,                                       400, 1, NULL) \
    X(InvalidMessageContents,      "InvalidMessageContents",           NULL,                                       400, 1, NULL) \
    X(InvalidBatchEntryId,         "InvalidBatchEntryId",              "AWS.SimpleQueueService.InvalidBatchEntryId", 400, 1, NULL) \
    X(BatchEntryIdsNotDistinct,    "BatchEntryIdsNotDistinct",         "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", 400, 1, NULL) \
    X(EmptyBatchRequest,           "EmptyBatchRequest",                "AWS.SimpleQueueService.EmptyBatchRequest", 400, 1, NULL) \
    X(TooManyEntriesInBatchRequest,"TooManyEntriesInBatchRequest",     "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", 400, 1, NULL) \
    X(BatchRequestTooLong,         "BatchRequestTooLong",              "AWS.SimpleQueueService.BatchRequestTooLong", 400, 1, NULL) \
    X(PurgeQueueInProgress,        "PurgeQueueInProgress",             "AWS.SimpleQueueService.PurgeQueueInProgress", 403, 1, NULL) \
    X(OverLimit,                   "OverLimit",                        NULL,                                       403, 1, NULL) \
    X(UnsupportedOperation,        "UnsupportedOperation",             "AWS.SimpleQueueService.UnsupportedOperation", 400, 1, NULL) \
    /* DynamoDB */ \
    X(ResourceNotFoundException,   "ResourceNotFoundException",        NULL,                                       400, 1, NULL) \
    X(ResourceInUseException,      "ResourceInUseException",           NULL,                                       400, 1, NULL) \
    X(ConditionalCheckFailed,      "ConditionalCheckFailedException",  NULL,                                       400, 1, NULL) \
    X(ItemCollectionSizeLimitExceeded, "ItemCollectionSizeLimitExceededException", NULL,                       400, 1, NULL) \
    X(ProvisionedThroughputExceeded, "ProvisionedThroughputExceededException", NULL,                           400, 1, NULL) \
    /* S3 (REST-XML: <Error><Code>) */ \
    X(NoSuchBucket,                "NoSuchBucket",                     NULL,                                       404, 1, NULL) \
    X(NoSuchKey,                   "NoSuchKey",                        NULL,                                       404, 1, NULL) \
    X(NoSuchUpload,                "NoSuchUpload",                     NULL,                                       404, 1, NULL) \
    X(NoSuchTagSet,                "NoSuchTagSet",                     NULL,                                       404, 1, NULL) \
    X(BucketAlreadyOwnedByYou,     "BucketAlreadyOwnedByYou",          NULL,                                       409, 1, NULL) \
    X(BucketNotEmpty,              "BucketNotEmpty",                   NULL,                                       409, 1, NULL) \
    X(InvalidBucketName,           "InvalidBucketName",                NULL,                                       400, 1, NULL) \
    X(InvalidLocationConstraint,   "InvalidLocationConstraint",        NULL,                                       400, 1, NULL) \
    X(IllegalLocationConstraint,   "IllegalLocationConstraintException", NULL,                                     400, 1, NULL) \
    X(EntityTooLarge,              "EntityTooLarge",                   NULL,                                       400, 1, NULL) \
    X(EntityTooSmall,              "EntityTooSmall",                   NULL,                                       400, 1, NULL) \
    X(InvalidPart,                 "InvalidPart",                      NULL,                                       400, 1, NULL) \
    X(InvalidPartOrder,            "InvalidPartOrder",                 NULL,                                       400, 1, NULL) \
    X(MalformedXML,                "MalformedXML",                     NULL,                                       400, 1, NULL) \
    X(InvalidArgument,             "InvalidArgument",                  NULL,                                       400, 1, NULL) \
    X(InvalidRequest,              "InvalidRequest",                   NULL,                                       400, 1, NULL) \
    X(InvalidDigest,               "InvalidDigest",                    NULL,                                       400, 1, NULL) \
    X(BadDigest,                   "BadDigest",                        NULL,                                       400, 1, NULL) \
    X(IncompleteBody,              "IncompleteBody",                   NULL,                                       400, 1, NULL) \
    X(InvalidURI,                  "InvalidURI",                       NULL,                                       400, 1, NULL) \
    X(KeyTooLongError,             "KeyTooLongError",                  NULL,                                       400, 1, NULL) \
    X(MetadataTooLarge,            "MetadataTooLarge",                 NULL,                                       400, 1, NULL) \
    X(InvalidTag,                  "InvalidTag",                       NULL,                                       400, 1, NULL) \
    X(InvalidRange,                "InvalidRange",                     NULL,                                       416, 1, NULL) \
    X(InvalidPartNumber,           "InvalidPartNumber",                NULL,                                       416, 1, NULL) \
    X(PreconditionFailed,          "PreconditionFailed",               NULL,                                       412, 1, NULL) \
    X(MethodNotAllowed,            "MethodNotAllowed",                 NULL,                                       405, 1, NULL) \
    X(MissingContentLength,        "MissingContentLength",             NULL,                                       411, 1, NULL) \
    X(S3NotImplemented,            "NotImplemented",                   NULL,                                       501, 0, NULL) \
    /* EC2 (<Response><Errors>: the code column) */ \
    X(InvalidInstanceIDNotFound,   "InvalidInstanceID.NotFound",       NULL,                                       400, 1, NULL) \
    X(InvalidInstanceIDMalformed,  "InvalidInstanceID.Malformed",      NULL,                                       400, 1, NULL) \
    X(InvalidID,                   "InvalidID",                        NULL,                                       400, 1, NULL) \
    X(InvalidAMIIDMalformed,       "InvalidAMIID.Malformed",           NULL,                                       400, 1, NULL) \
    X(IncorrectInstanceState,      "IncorrectInstanceState",           NULL,                                       400, 1, NULL) \
    X(InvalidLaunchTemplateIdNotFound, "InvalidLaunchTemplateId.NotFound", NULL,                                   400, 1, NULL) \
    X(InvalidLaunchTemplateIdMalformed, "InvalidLaunchTemplateId.Malformed", NULL,                                 400, 1, NULL) \
    X(InvalidLaunchTemplateNameNotFound, "InvalidLaunchTemplateName.NotFoundException", NULL,                      400, 1, NULL) \
    X(InvalidLaunchTemplateNameExists, "InvalidLaunchTemplateName.AlreadyExistsException", NULL,                   400, 1, NULL) \
    X(InvalidLaunchTemplateVersion, "InvalidLaunchTemplateId.VersionNotFound", NULL,                               400, 1, NULL) \
    X(InvalidFilter,               "InvalidFilter",                    NULL,                                       400, 1, NULL) \
    X(InvalidPaginationToken,      "InvalidPaginationToken",           NULL,                                       400, 1, NULL) \
    X(Ec2UnsupportedOperation,     "UnsupportedOperation",             NULL,                                       400, 1, NULL) \
    X(RequestLimitExceeded,        "RequestLimitExceeded",             NULL,                                       503, 1, NULL) \
    X(Ec2InternalError,            "InternalError",                    NULL,                                       500, 0, NULL) \
    /* Auto Scaling (Query: the query code column) */ \
    X(AsgAlreadyExists,            "AlreadyExistsFault",               "AlreadyExists",                            400, 1, NULL) \
    X(AsgResourceInUse,            "ResourceInUseFault",               "ResourceInUse",                            400, 1, NULL) \
    X(AsgScalingActivityInProgress,"ScalingActivityInProgressFault",   "ScalingActivityInProgress",                400, 1, NULL) \
    /* SSM (JSON 1.1) */ \
    X(InvalidInstanceId,           "InvalidInstanceId",                NULL,                                       400, 1, NULL) \
    X(InvocationDoesNotExist,      "InvocationDoesNotExist",           NULL,                                       400, 1, NULL) \
    X(InvalidCommandId,            "InvalidCommandId",                 NULL,                                       400, 1, NULL) \
    X(InvalidDocument,             "InvalidDocument",                  NULL,                                       400, 1, NULL) \
    X(InvalidParameters,           "InvalidParameters",                NULL,                                       400, 1, NULL) \
    X(InvalidNextToken,            "InvalidNextToken",                 NULL,                                       400, 1, NULL) \
    X(DuplicateInstanceId,         "DuplicateInstanceId",              NULL,                                       400, 1, NULL) \
    X(InternalServerError,         "InternalServerError",              NULL,                                       500, 0, NULL) \
    X(ParameterAlreadyExists,      "ParameterAlreadyExists",           NULL,                                       400, 1, NULL) \
    X(ParameterNotFound,           "ParameterNotFound",                NULL,                                       400, 1, NULL) \
    X(HierarchyLevelLimitExceeded, "HierarchyLevelLimitExceededException", NULL,                                   400, 1, NULL) \
    X(InvalidFilterKey,            "InvalidFilterKey",                 NULL,                                       400, 1, NULL) \
    X(InvalidFilterOption,         "InvalidFilterOption",              NULL,                                       400, 1, NULL) \
    X(InvalidFilterValue,          "InvalidFilterValue",               NULL,                                       400, 1, NULL) \
    /* Auth (emulator/auth.c: which family answers with which row is in auth.h) */ \
    X(MissingAuthenticationToken,  "MissingAuthenticationToken",       NULL,                                       403, 1, CORAL_SERVICE) \
    X(MissingAuthenticationTokenException, "MissingAuthenticationTokenException", NULL,                           400, 1, CORAL_SERVICE) \
    X(IncompleteSignature,         "IncompleteSignature",              NULL,                                       400, 1, CORAL_SERVICE) \
    X(IncompleteSignatureException,"IncompleteSignatureException",     NULL,                                       400, 1, CORAL_SERVICE) \
    X(InvalidClientTokenId,        "InvalidClientTokenId",             NULL,                                       403, 1, CORAL_SERVICE) \
    X(UnrecognizedClientException, "UnrecognizedClientException",      NULL,                                       400, 1, CORAL_SERVICE) \
    X(SignatureDoesNotMatch,       "SignatureDoesNotMatch",            NULL,                                       403, 1, CORAL_SERVICE) \
    X(InvalidSignatureException,   "InvalidSignatureException",        NULL,                                       400, 1, CORAL_SERVICE) \
    X(AuthFailure,                 "AuthFailure",                      NULL,                                       401, 1, NULL) \
    X(RequestExpired,              "RequestExpired",                   NULL,                                       400, 1, NULL) \
    X(InvalidAccessKeyId,          "InvalidAccessKeyId",               NULL,                                       403, 1, NULL) \
    X(RequestTimeTooSkewed,        "RequestTimeTooSkewed",             NULL,                                       403, 1, NULL) \
    X(S3AccessDenied,              "AccessDenied",                     NULL,                                       403, 1, NULL) \
    X(AuthorizationHeaderMalformed,"AuthorizationHeaderMalformed",     NULL,                                       400, 1, NULL) \
    X(AuthorizationQueryParametersError, "AuthorizationQueryParametersError", NULL,                               400, 1, NULL) \
    X(XAmzContentSHA256Mismatch,   "XAmzContentSHA256Mismatch",        NULL,                                       400, 1, NULL) \
    /* SQS throttling (fault injection) */ \
    X(RequestThrottled,            "RequestThrottled",                 NULL,                                       400, 1, NULL)

enum dss_error {
#define DSS_ERROR_ENUM(id, code, qcode, status, sender, ns) DSS_E_##id,
    DSS_ERROR_TABLE(DSS_ERROR_ENUM)
#undef DSS_ERROR_ENUM
    DSS_E__COUNT
};

struct dss_error_info {
    const char *code;       /* JSON __type shape name; S3/EC2 <Code> */
    const char *query_code; /* Query protocol <Code> */
    int status;             /* HTTP status */
    int sender;             /* 1: the caller's fault (Sender), 0: ours (Receiver) */
    const char *json_ns;    /* JSON __type namespace when not the service's own, else NULL */
};

const struct dss_error_info *dss_error_info(enum dss_error e);

#endif
