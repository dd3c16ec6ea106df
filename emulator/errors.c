/* errors.c -- the rows of errors.h as a lookup table. */
#include "errors.h"

static const struct dss_error_info table[DSS_E__COUNT] = {
#define DSS_ERROR_ROW(id, code, qcode, status, sender, ns) \
    [DSS_E_##id] = {code, (qcode) ? (qcode) : (code), status, sender, ns},
    DSS_ERROR_TABLE(DSS_ERROR_ROW)
#undef DSS_ERROR_ROW
};

const struct dss_error_info *dss_error_info(enum dss_error e)
{
    if ((unsigned)e >= DSS_E__COUNT)
        e = DSS_E_InternalFailure;
    return &table[e];
}
