/* services.c -- the services this emulator serves. Adding one is a line here. */
#include "service.h"

const struct dss_service *const dss_services[] = {
    &dss_sqs_service,
    &dss_dynamodb_service,
    &dss_s3_service,
    &dss_ec2_service,
    &dss_autoscaling_service,
    &dss_ssm_service,
    &dss_ec2messages_service,
    NULL,
};
