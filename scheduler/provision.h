/* provision.h -- `dss-scheduler provision` and `dss-scheduler teardown`: the resources a stack
 * needs, made with the same AWS calls against dss-emulator or real AWS (the role the seed's two
 * CloudFormation templates played).
 */
#ifndef DSS_SCHED_PROVISION_H
#define DSS_SCHED_PROVISION_H

/* argv[1] is "provision" or "teardown"; parses the rest itself. Returns the exit status:
 * 0 done, 1 an AWS call failed or teardown refused, 2 bad usage. */
int provision_main(int argc, char **argv);

/* The usage lines of both commands, for dss-scheduler's help. */
extern const char provision_usage[];

#endif
