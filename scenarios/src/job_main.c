/* job_main.c -- dss-scenario-job, the job shim as its own small program (shim.c says why). */
#include "runner.h"

int main(int argc, char **argv)
{
    return shim_main(argc, argv);
}
