/* sqs.h -- what other services may ask of SQS: S3 event notifications deliver to queues.
 *
 * Both run inside the caller's transaction, so a message sent here commits or rolls back
 * with the change that caused it, and a parked ReceiveMessage is woken after the commit. */
#ifndef DSS_SQS_H
#define DSS_SQS_H

#include "service.h"

/* 1 if arn:aws:sqs:REGION:ACCOUNT:NAME names an existing queue in that region, else 0. */
int sqs_queue_exists(struct dss_call *call, const char *queue_arn);
/* Sends body (valid SQS message text) to the queue the ARN names, as SendMessage would.
 * Returns 0, or DSS_ERR after dss_fail() (QueueDoesNotExist, or the body is refused). */
int sqs_send_internal(struct dss_call *call, const char *queue_arn, const char *body);

#endif
