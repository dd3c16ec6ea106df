/* ec2.c -- Amazon Elastic Compute Cloud, API 2016-11-15, EC2 Query protocol (Filter.N.Value.M
 * lists, responses without a Result wrapper, errors as <Response><Errors>).
 *
 * Supported: RunInstances (MinCount/MaxCount, TagSpecifications, LaunchTemplate by id or name
 * and version, InstanceMarketOptions spot), DescribeInstances (filters, MaxResults/NextToken),
 * DescribeInstanceStatus (IncludeAllInstances), TerminateInstances, StopInstances,
 * StartInstances, RebootInstances, CreateTags, DeleteTags, DescribeTags, CreateLaunchTemplate,
 * DescribeLaunchTemplates, CreateLaunchTemplateVersion, DescribeLaunchTemplateVersions,
 * DeleteLaunchTemplate, DescribeSpotInstanceRequests, and minimal but valid DescribeImages,
 * DescribeInstanceTypes, DescribeAvailabilityZones, DescribeRegions.
 *
 * Semantics: an instance is pending for a boot delay, then running (the supervisor starts its
 * worker process), its status checks pass a little later, and after TerminateInstances it is
 * shutting-down, then terminated, and still described for an hour -- all on the emulator's
 * clock (instances.c). A worker that dies on its own fails the instance's status checks; a
 * Spot instance whose worker dies is terminated. Spot instances cannot be stopped (a one-time
 * request, as RunInstances makes them). Ids come from the seed (ec2_new_id).
 *
 * Limitations: no VPCs, subnets, security groups, volumes or images beyond names in the
 * answers; no capacity limits (InsufficientInstanceCapacity never happens unless injected);
 * ClientToken is stored but not used for idempotency; DryRun is not checked.
 */
#include "ec2.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "util.h"

#define MAX_LAUNCH 1000

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS dss_ids(kind TEXT PRIMARY KEY, n INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ec2_instances("
    "  id TEXT PRIMARY KEY,"
    "  seq INTEGER NOT NULL,"
    "  region TEXT NOT NULL,"
    "  image_id TEXT NOT NULL,"
    "  instance_type TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  lifecycle TEXT NOT NULL DEFAULT '',"  /* '' (on-demand) or 'spot' */
    "  spot_request_id TEXT,"
    "  reservation_id TEXT NOT NULL,"
    "  launch_index INTEGER NOT NULL DEFAULT 0,"
    "  launch_ms INTEGER NOT NULL,"
    "  due_ms INTEGER,"                     /* when the current transitional state ends */
    "  running_ms INTEGER,"                 /* when it last became running */
    "  state_ms INTEGER NOT NULL,"
    "  reason TEXT NOT NULL DEFAULT '',"    /* StateTransitionReason */
    "  reason_code TEXT, reason_msg TEXT,"  /* StateReason */
    "  notice_ms INTEGER,"                  /* Spot: when the interruption takes effect */
    "  notice_at_ms INTEGER,"               /* Spot: when the notice was given */
    "  rebalance_ms INTEGER,"
    "  az TEXT NOT NULL,"
    "  private_ip TEXT NOT NULL,"
    "  key_name TEXT, user_data TEXT, client_token TEXT,"
    "  lt_id TEXT, lt_name TEXT, lt_version TEXT,"
    "  asg TEXT,"
    "  worker TEXT NOT NULL DEFAULT 'none'," /* none, running, paused, dead */
    "  worker_pid INTEGER,"
    "  cmd_pgid INTEGER,"                   /* process group of the command the worker runs */
    "  ping_ms INTEGER);"                   /* the worker's last command poll (SSM ping) */
    "CREATE INDEX IF NOT EXISTS ec2_instances_state ON ec2_instances(state, due_ms);"
    "CREATE INDEX IF NOT EXISTS ec2_instances_seq ON ec2_instances(seq);"
    /* The supervisor's next due time (instances.c: next_due), asked at every turn of the
     * simulated clock: the first entry of each, rather than every instance of the last hour. */
    "CREATE INDEX IF NOT EXISTS ec2_instances_due ON ec2_instances(due_ms) WHERE due_ms IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS ec2_instances_notice ON ec2_instances(notice_ms) "
    "  WHERE notice_ms IS NOT NULL AND state IN ('pending', 'running');"
    "CREATE TABLE IF NOT EXISTS ec2_tags("
    "  resource_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,"
    "  PRIMARY KEY(resource_id, key));"
    "CREATE TABLE IF NOT EXISTS ec2_launch_templates("
    "  id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created_ms INTEGER NOT NULL,"
    "  default_version INTEGER NOT NULL, latest_version INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS ec2_lt_versions("
    "  lt_id TEXT NOT NULL REFERENCES ec2_launch_templates(id) ON DELETE CASCADE,"
    "  version INTEGER NOT NULL, description TEXT, data TEXT NOT NULL, created_ms INTEGER NOT NULL,"
    "  PRIMARY KEY(lt_id, version));";

/* ======================================================================================
 * Shared helpers (ec2.h)
 * ====================================================================================== */

int ec2_state_code(const char *s)
{
    return !strcmp(s, EC2_PENDING) ? 0 : !strcmp(s, EC2_RUNNING) ? 16 : !strcmp(s, EC2_SHUTTING_DOWN) ? 32
         : !strcmp(s, EC2_TERMINATED) ? 48 : !strcmp(s, EC2_STOPPING) ? 64 : 80;
}

static const char *seed(void)
{
    const char *s = getenv("DSS_SEED");
    return s && *s ? s : "dss";
}

static int64_t next_counter(const char *kind)
{
    sqlite3_stmt *st = dss_stmt(NULL, "INSERT INTO dss_ids(kind, n) VALUES(?, 1) "
                                      "ON CONFLICT(kind) DO UPDATE SET n = n + 1 RETURNING n");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, kind, -1, SQLITE_STATIC);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    return n;
}

int ec2_new_id(const char *kind, const char *prefix, int hexlen, char *out, size_t n)
{
    int64_t k = next_counter(kind);
    if (k < 0)
        return -1;
    char text[512], hex[65];
    snprintf(text, sizeof text, "%s/%s/%lld", seed(), kind, (long long)k);
    sha256_hex(text, strlen(text), hex);
    snprintf(out, n, "%s%.*s", prefix, hexlen, hex);
    return 0;
}

int ec2_new_uuid(const char *kind, char out[37])
{
    char hex[40];
    if (ec2_new_id(kind, "", 32, hex, sizeof hex))
        return -1;
    snprintf(out, 37, "%.8s-%.4s-4%.3s-a%.3s-%.12s", hex, hex + 8, hex + 13, hex + 17, hex + 20);
    return 0;
}

cJSON *ec2_tags_json(const char *resource_id)
{
    cJSON *arr = cJSON_CreateArray();
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT key, value FROM ec2_tags WHERE resource_id = ? ORDER BY key");
    if (!st)
        return arr;
    sqlite3_bind_text(st, 1, resource_id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "Key", (const char *)sqlite3_column_text(st, 0));
        cJSON_AddStringToObject(t, "Value", (const char *)sqlite3_column_text(st, 1));
        cJSON_AddItemToArray(arr, t);
    }
    sqlite3_reset(st);
    return arr;
}

int ec2_tag_set(const char *resource_id, const char *key, const char *value)
{
    sqlite3_stmt *st = dss_stmt(NULL, "INSERT INTO ec2_tags(resource_id, key, value) VALUES(?, ?, ?) "
                                      "ON CONFLICT(resource_id, key) DO UPDATE SET value = excluded.value");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, resource_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, value ? value : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    return rc;
}

int ec2_instance_state(const char *id, char *state, size_t n)
{
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT state FROM ec2_instances WHERE id = ?");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(state, n, "%s", (const char *)sqlite3_column_text(st, 0));
        rc = 0;
    }
    sqlite3_reset(st);
    return rc;
}

int ec2_launch_instance(const struct ec2_launch *l, char id[20])
{
    int64_t now = dss_clock_now_ms();
    int64_t seq = next_counter("instance");
    char text[256], hex[65], spot_id[32] = "", ip[32];
    if (seq < 0)
        return -1;
    snprintf(text, sizeof text, "%s/instance/%lld", seed(), (long long)seq);
    sha256_hex(text, strlen(text), hex);
    snprintf(id, 20, "i-%.17s", hex);
    if (l->spot)
        snprintf(spot_id, sizeof spot_id, "sir-%.8s", hex + 20);
    snprintf(ip, sizeof ip, "10.0.%d.%d", (int)((seq >> 8) & 0xff), (int)(seq & 0xff) ? (int)(seq & 0xff) : 1);
    char az[80];
    snprintf(az, sizeof az, "%s", l->az && *l->az ? l->az : "");
    if (!az[0])
        snprintf(az, sizeof az, "%sa", l->region);
    sqlite3_stmt *st = dss_stmt(NULL,
        "INSERT INTO ec2_instances(id, seq, region, image_id, instance_type, state, lifecycle, "
        "spot_request_id, reservation_id, launch_index, launch_ms, due_ms, state_ms, az, private_ip, "
        "key_name, user_data, client_token, lt_id, lt_name, lt_version, asg) "
        "VALUES(?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!st)
        return -1;
    int i = 1;
    sqlite3_bind_text(st, i++, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, i++, seq);
    sqlite3_bind_text(st, i++, l->region, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, l->image_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, l->instance_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, i++, l->spot ? "spot" : "", -1, SQLITE_STATIC);
    if (l->spot)
        sqlite3_bind_text(st, i, spot_id, -1, SQLITE_TRANSIENT);
    i++;
    sqlite3_bind_text(st, i++, l->reservation_id, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, i++, l->launch_index);
    sqlite3_bind_int64(st, i++, now);
    sqlite3_bind_int64(st, i++, now + ec2_timings.boot_ms);
    sqlite3_bind_int64(st, i++, now);
    sqlite3_bind_text(st, i++, az, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, i++, ip, -1, SQLITE_TRANSIENT);
    const char *opt[] = {l->key_name, l->user_data, l->client_token, l->lt_id, l->lt_name, l->lt_version, l->asg_name};
    for (size_t k = 0; k < sizeof opt / sizeof *opt; k++, i++)
        if (opt[k])
            sqlite3_bind_text(st, i, opt[k], -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    const cJSON *t;
    cJSON_ArrayForEach(t, l->tags) {
        const char *k = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "Key"));
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "Value"));
        if (k && rc == 0)
            rc = ec2_tag_set(id, k, v);
    }
    return rc;
}

int ec2_terminate_instance(const char *id, const char *reason_code, const char *reason_msg)
{
    int64_t now = dss_clock_now_ms();
    char reason[200];
    iso8601_ms(now, reason);
    reason[19] = '\0';
    char text[256];
    snprintf(text, sizeof text, reason_code ? "Service initiated (%s GMT)" : "User initiated (%s GMT)", reason);
    sqlite3_stmt *st = dss_stmt(NULL,
        "UPDATE ec2_instances SET state = 'shutting-down', state_ms = ?1, due_ms = ?2, reason = ?3, "
        "reason_code = ?4, reason_msg = ?5 "
        "WHERE id = ?6 AND state NOT IN ('shutting-down', 'terminated')");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_int64(st, 2, now + ec2_timings.shutdown_ms);
    sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, reason_code ? reason_code : "Client.UserInitiatedShutdown", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, reason_msg ? reason_msg : "Client.UserInitiatedShutdown: User initiated shutdown",
                      -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, id, -1, SQLITE_STATIC);
    int changed = sqlite3_step(st) == SQLITE_DONE && sqlite3_changes(dss_db(NULL)) > 0;
    sqlite3_reset(st);
    if (changed)
        instances_poke();
    return changed;
}

/* ======================================================================================
 * Validation
 * ====================================================================================== */

static int valid_hex_id(const char *id, const char *prefix)
{
    size_t p = strlen(prefix), n = strlen(id);
    if (strncmp(id, prefix, p) != 0 || (n - p != 8 && n - p != 17))
        return 0;
    for (size_t i = p; i < n; i++)
        if (!isxdigit((unsigned char)id[i]))
            return 0;
    return 1;
}

/* Every InstanceIds entry must be well formed and exist (AWS names every missing one). */
static int check_instance_ids(struct dss_call *call, const cJSON *ids)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, ids) {
        if (!cJSON_IsString(v) || !valid_hex_id(v->valuestring, "i-"))
            return dss_fail(call, DSS_E_InvalidInstanceIDMalformed, "Invalid id: \"%s\"",
                            cJSON_IsString(v) ? v->valuestring : "");
    }
    struct buf missing;
    buf_init(&missing, 4096);
    int n_missing = 0;
    char state[32];
    cJSON_ArrayForEach(v, ids) {
        if (ec2_instance_state(v->valuestring, state, sizeof state) != 0) {
            buf_printf(&missing, "%s%s", n_missing++ ? ", " : "", v->valuestring);
        }
    }
    int rc = 0;
    if (n_missing)
        rc = dss_fail(call, DSS_E_InvalidInstanceIDNotFound, n_missing == 1 ? "The instance ID '%s' does not exist"
                      : "The instance IDs '%s' do not exist", missing.data);
    buf_free(&missing);
    return rc;
}

static int valid_instance_type(const char *t)
{
    const char *dot = strchr(t, '.');
    if (!dot || dot == t || !dot[1] || strlen(t) > 64)
        return 0;
    for (const char *p = t; *p; p++)
        if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

/* ======================================================================================
 * Describing instances
 * ====================================================================================== */

#define INST_COLS "id, image_id, instance_type, state, lifecycle, spot_request_id, reservation_id, " \
                  "launch_index, launch_ms, reason, reason_code, reason_msg, az, private_ip, key_name, " \
                  "client_token, worker, running_ms, seq, lt_id, lt_name, lt_version, notice_ms"
enum { C_ID, C_IMAGE, C_TYPE, C_STATE, C_LIFECYCLE, C_SPOT, C_RES, C_INDEX, C_LAUNCH, C_REASON,
       C_RCODE, C_RMSG, C_AZ, C_IP, C_KEY, C_TOKEN, C_WORKER, C_RUNNING, C_SEQ, C_LTID, C_LTNAME,
       C_LTVER, C_NOTICE };

/* Epoch milliseconds as the whole seconds EC2's timestamps carry (the JSON tree holds numbers
 * as doubles; the fraction is dropped on purpose). */
static double whole_seconds(int64_t ms)
{
    int64_t s = ms / 1000;
    return (double)s;
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

static cJSON *state_json(const char *state)
{
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "Code", ec2_state_code(state));
    cJSON_AddStringToObject(s, "Name", state);
    return s;
}

static cJSON *instance_json(sqlite3_stmt *st)
{
    cJSON *i = cJSON_CreateObject();
    const char *id = col(st, C_ID), *ip = col(st, C_IP), *region_az = col(st, C_AZ);
    char dns[128];
    cJSON_AddStringToObject(i, "InstanceId", id);
    cJSON_AddStringToObject(i, "ImageId", col(st, C_IMAGE));
    cJSON_AddItemToObject(i, "State", state_json(col(st, C_STATE)));
    snprintf(dns, sizeof dns, "ip-%s", ip);
    for (char *p = dns; *p; p++) /* ip-10-0-0-1.ec2.internal */
        if (*p == '.')
            *p = '-';
    snprintf(dns + strlen(dns), sizeof dns - strlen(dns), ".ec2.internal");
    cJSON_AddStringToObject(i, "PrivateDnsName", strcmp(col(st, C_STATE), EC2_TERMINATED) ? dns : "");
    cJSON_AddStringToObject(i, "PublicDnsName", "");
    cJSON_AddStringToObject(i, "StateTransitionReason", col(st, C_REASON));
    if (col(st, C_KEY)[0])
        cJSON_AddStringToObject(i, "KeyName", col(st, C_KEY));
    cJSON_AddNumberToObject(i, "AmiLaunchIndex", sqlite3_column_int(st, C_INDEX));
    cJSON_AddItemToObject(i, "ProductCodes", cJSON_CreateArray());
    cJSON_AddStringToObject(i, "InstanceType", col(st, C_TYPE));
    cJSON_AddNumberToObject(i, "LaunchTime", whole_seconds(sqlite3_column_int64(st, C_LAUNCH)));
    cJSON *pl = cJSON_AddObjectToObject(i, "Placement");
    cJSON_AddStringToObject(pl, "AvailabilityZone", region_az);
    cJSON_AddStringToObject(pl, "GroupName", "");
    cJSON_AddStringToObject(pl, "Tenancy", "default");
    cJSON_AddStringToObject(cJSON_AddObjectToObject(i, "Monitoring"), "State", "disabled");
    if (strcmp(col(st, C_STATE), EC2_TERMINATED)) {
        cJSON_AddStringToObject(i, "PrivateIpAddress", ip);
        cJSON_AddStringToObject(i, "SubnetId", "subnet-0dss00000000000a1");
        cJSON_AddStringToObject(i, "VpcId", "vpc-0dss000000000000a");
    }
    cJSON_AddStringToObject(i, "Architecture", "x86_64");
    cJSON_AddItemToObject(i, "BlockDeviceMappings", cJSON_CreateArray());
    if (col(st, C_TOKEN)[0])
        cJSON_AddStringToObject(i, "ClientToken", col(st, C_TOKEN));
    cJSON_AddBoolToObject(i, "EbsOptimized", 0);
    cJSON_AddBoolToObject(i, "EnaSupport", 1);
    cJSON_AddStringToObject(i, "Hypervisor", "xen");
    if (!strcmp(col(st, C_LIFECYCLE), "spot")) {
        cJSON_AddStringToObject(i, "InstanceLifecycle", "spot");
        cJSON_AddStringToObject(i, "SpotInstanceRequestId", col(st, C_SPOT));
    }
    cJSON_AddItemToObject(i, "NetworkInterfaces", cJSON_CreateArray());
    cJSON_AddStringToObject(i, "RootDeviceName", "/dev/xvda");
    cJSON_AddStringToObject(i, "RootDeviceType", "ebs");
    cJSON_AddItemToObject(i, "SecurityGroups", cJSON_CreateArray());
    cJSON_AddBoolToObject(i, "SourceDestCheck", 1);
    if (col(st, C_RCODE)[0]) {
        cJSON *sr = cJSON_AddObjectToObject(i, "StateReason");
        cJSON_AddStringToObject(sr, "Code", col(st, C_RCODE));
        cJSON_AddStringToObject(sr, "Message", col(st, C_RMSG));
    }
    cJSON *tags = ec2_tags_json(id);
    if (cJSON_GetArraySize(tags))
        cJSON_AddItemToObject(i, "Tags", tags);
    else
        cJSON_Delete(tags);
    cJSON_AddStringToObject(i, "VirtualizationType", "hvm");
    cJSON *cpu = cJSON_AddObjectToObject(i, "CpuOptions");
    cJSON_AddNumberToObject(cpu, "CoreCount", 1);
    cJSON_AddNumberToObject(cpu, "ThreadsPerCore", 2);
    cJSON *mo = cJSON_AddObjectToObject(i, "MetadataOptions");
    cJSON_AddStringToObject(mo, "State", "applied");
    cJSON_AddStringToObject(mo, "HttpTokens", "optional");
    cJSON_AddNumberToObject(mo, "HttpPutResponseHopLimit", 1);
    cJSON_AddStringToObject(mo, "HttpEndpoint", "enabled");
    cJSON_AddStringToObject(i, "PlatformDetails", "Linux/UNIX");
    cJSON_AddStringToObject(i, "UsageOperation", "RunInstances");
    return i;
}

/* What a filter name means for one instance row (ec2_filters_match's getter). */
struct inst_ctx {
    sqlite3_stmt *st;
    cJSON *tags;
    char code[8];
};

static const char *inst_filter_value(void *p, const char *name, int i)
{
    struct inst_ctx *c = p;
    sqlite3_stmt *st = c->st;
    if (!strncmp(name, "tag:", 4) || !strcmp(name, "tag-key") || !strcmp(name, "tag-value")) {
        if (!c->tags)
            c->tags = ec2_tags_json(col(st, C_ID));
        int k = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, c->tags) {
            const char *key = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "Key"));
            const char *val = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(t, "Value"));
            if (!strncmp(name, "tag:", 4) && strcmp(key, name + 4))
                continue;
            if (k++ == i)
                return !strcmp(name, "tag-key") ? key : val;
        }
        return NULL;
    }
    if (i > 0)
        return NULL;
    if (!strcmp(name, "instance-id")) return col(st, C_ID);
    if (!strcmp(name, "instance-state-name")) return col(st, C_STATE);
    if (!strcmp(name, "instance-state-code")) {
        snprintf(c->code, sizeof c->code, "%d", ec2_state_code(col(st, C_STATE)));
        return c->code;
    }
    if (!strcmp(name, "instance-lifecycle"))
        return col(st, C_LIFECYCLE)[0] ? col(st, C_LIFECYCLE) : NULL;
    if (!strcmp(name, "instance-type")) return col(st, C_TYPE);
    if (!strcmp(name, "image-id")) return col(st, C_IMAGE);
    if (!strcmp(name, "availability-zone")) return col(st, C_AZ);
    if (!strcmp(name, "reservation-id")) return col(st, C_RES);
    if (!strcmp(name, "private-ip-address")) return col(st, C_IP);
    if (!strcmp(name, "key-name")) return col(st, C_KEY)[0] ? col(st, C_KEY) : NULL;
    if (!strcmp(name, "spot-instance-request-id")) return col(st, C_SPOT)[0] ? col(st, C_SPOT) : NULL;
    if (!strcmp(name, "launch-template-id")) return col(st, C_LTID)[0] ? col(st, C_LTID) : NULL;
    return NULL;
}

static const char *const instance_filters[] = {
    "instance-id", "instance-state-name", "instance-state-code", "instance-lifecycle", "instance-type",
    "image-id", "availability-zone", "reservation-id", "private-ip-address", "key-name",
    "spot-instance-request-id", "launch-template-id", "tag-key", "tag-value", "tag:", NULL};

static int id_listed(const cJSON *ids, const char *id)
{
    const cJSON *v;
    cJSON_ArrayForEach(v, ids)
        if (cJSON_IsString(v) && !strcmp(v->valuestring, id))
            return 1;
    return 0;
}

/* DescribeInstances: InstanceIds, Filters, MaxResults (5..1000), NextToken -> Reservations. */
static int op_describe_instances(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(params, "InstanceIds");
    int64_t max = 0, after = 0;
    int has_max = dss_param_int(params, "MaxResults", &max);
    if (has_max < 0 || (has_max == 0 && (max < 5 || max > 1000)))
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "Value ( %lld ) for parameter maxResults is invalid. Expecting a value greater than 5.",
                        (long long)max);
    if (has_max == 0 && cJSON_GetArraySize(ids) > 0)
        return dss_fail(call, DSS_E_InvalidParameterCombination,
                        "The parameter instancesSet cannot be used with the parameter maxResults");
    const char *token = dss_param_str(params, "NextToken");
    if (token) {
        char *end;
        after = strtoll(token, &end, 10);
        if (!*token || *end || after < 0)
            return dss_fail(call, DSS_E_InvalidPaginationToken, "Invalid pagination token");
    }
    if (ids && check_instance_ids(call, ids))
        return DSS_ERR;
    struct ec2_filters fs;
    char err[512];
    if (ec2_filters_parse(cJSON_GetObjectItemCaseSensitive(params, "Filters"), instance_filters, &fs, err, sizeof err))
        return dss_fail(call, DSS_E_InvalidParameterValue, "%s", err);
    /* Asked by id, the instances are looked up by id: a workflow that describes its own
     * instance on every poll must not pay for every instance of the last hour. */
    char *listed = cJSON_GetArraySize(ids) ? cJSON_PrintUnformatted(ids) : NULL;
    sqlite3_stmt *st = listed ? dss_stmt(call, "SELECT " INST_COLS " FROM ec2_instances WHERE seq > ? AND id IN "
                                               "(SELECT value FROM json_each(?)) ORDER BY seq")
                              : dss_stmt(call, "SELECT " INST_COLS " FROM ec2_instances WHERE seq > ? ORDER BY seq");
    if (!st) {
        free(listed);
        ec2_filters_free(&fs);
        return dss_fail(call, DSS_E_Ec2InternalError, "An internal error has occurred");
    }
    sqlite3_bind_int64(st, 1, after);
    if (listed)
        sqlite3_bind_text(st, 2, listed, -1, free);
    cJSON *out = cJSON_CreateObject();
    cJSON *reservations = cJSON_AddArrayToObject(out, "Reservations");
    cJSON *res = NULL;
    char last_res[64] = "";
    int64_t count = 0, last_seq = 0;
    int more = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct inst_ctx ctx = {st, NULL, ""};
        int hit = ec2_filters_match(&fs, inst_filter_value, &ctx);
        cJSON_Delete(ctx.tags);
        if (!hit)
            continue;
        if (has_max == 0 && count == max) {
            more = 1;
            break;
        }
        if (!res || strcmp(last_res, col(st, C_RES))) {
            snprintf(last_res, sizeof last_res, "%s", col(st, C_RES));
            res = cJSON_CreateObject();
            cJSON_AddStringToObject(res, "ReservationId", last_res);
            cJSON_AddStringToObject(res, "OwnerId", EC2_ACCOUNT_ID);
            cJSON_AddItemToObject(res, "Groups", cJSON_CreateArray());
            cJSON_AddItemToObject(res, "Instances", cJSON_CreateArray());
            cJSON_AddItemToArray(reservations, res);
        }
        cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(res, "Instances"), instance_json(st));
        last_seq = sqlite3_column_int64(st, C_SEQ);
        count++;
    }
    sqlite3_reset(st);
    ec2_filters_free(&fs);
    if (more) {
        char next[32];
        snprintf(next, sizeof next, "%lld", (long long)last_seq);
        cJSON_AddStringToObject(out, "NextToken", next);
    }
    *result = out;
    return DSS_OK;
}

/* DescribeInstanceStatus: InstanceIds, IncludeAllInstances, Filters -> InstanceStatuses. */
static int op_describe_instance_status(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(params, "InstanceIds");
    int all = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "IncludeAllInstances"));
    if (ids && check_instance_ids(call, ids))
        return DSS_ERR;
    static const char *const allowed[] = {"instance-state-name", "instance-state-code", "availability-zone",
                                          "instance-status.status", "system-status.status", NULL};
    struct ec2_filters fs;
    char err[512];
    if (ec2_filters_parse(cJSON_GetObjectItemCaseSensitive(params, "Filters"), allowed, &fs, err, sizeof err))
        return dss_fail(call, DSS_E_InvalidParameterValue, "%s", err);
    /* "ok" also waits for the instance's SSM agent to have registered: on AWS the agent is up well
     * before the status checks pass (minutes), and a workflow that sends its command once the
     * status is ok must not meet InvalidInstanceId because a loaded machine started a worker late. */
#define STATUS_COLS "SELECT id, state, az, running_ms, worker, EXISTS(SELECT 1 FROM ssm_agents a " \
                    "WHERE a.instance_id = ec2_instances.id) FROM ec2_instances "
    char *listed = cJSON_GetArraySize(ids) ? cJSON_PrintUnformatted(ids) : NULL; /* by id: as DescribeInstances */
    sqlite3_stmt *st = listed ? dss_stmt(call, STATUS_COLS "WHERE id IN (SELECT value FROM json_each(?)) ORDER BY seq")
                              : dss_stmt(call, STATUS_COLS "ORDER BY seq");
#undef STATUS_COLS
    if (st && listed)
        sqlite3_bind_text(st, 1, listed, -1, free);
    else
        free(listed);
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "InstanceStatuses");
    int64_t now = dss_clock_now_ms();
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *id = col(st, 0), *state = col(st, 1), *worker = col(st, 4);
        int running = !strcmp(state, EC2_RUNNING);
        if (!running && !all)
            continue;
        const char *status = "not-applicable", *reach = NULL;
        if (running) {
            if (!strcmp(worker, "dead") || !strcmp(worker, "paused"))
                status = "impaired", reach = "failed";
            else if (now >= sqlite3_column_int64(st, 3) + ec2_timings.status_ms && !strcmp(worker, "running") &&
                     sqlite3_column_int(st, 5))
                status = "ok", reach = "passed";
            else
                status = "initializing", reach = "initializing";
        }
        const char *sys_status = running ? (strcmp(status, "impaired") ? status : "ok") : "not-applicable";
        char code[8];
        snprintf(code, sizeof code, "%d", ec2_state_code(state));
        int keep = 1;
        for (int k = 0; k < fs.n && keep; k++) {
            const char *n = fs.f[k].name;
            const char *v = !strcmp(n, "instance-state-name") ? state : !strcmp(n, "instance-state-code") ? code
                          : !strcmp(n, "availability-zone") ? col(st, 2)
                          : !strcmp(n, "instance-status.status") ? status : sys_status;
            keep = ec2_filter_value_match(&fs.f[k], v);
        }
        if (!keep)
            continue;
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "AvailabilityZone", col(st, 2));
        cJSON_AddStringToObject(s, "InstanceId", id);
        cJSON_AddItemToObject(s, "InstanceState", state_json(state));
        cJSON *is = cJSON_AddObjectToObject(s, "InstanceStatus");
        cJSON *ss = cJSON_AddObjectToObject(s, "SystemStatus");
        cJSON_AddStringToObject(is, "Status", status);
        cJSON_AddStringToObject(ss, "Status", sys_status);
        if (reach) {
            cJSON *d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "Name", "reachability");
            cJSON_AddStringToObject(d, "Status", reach);
            cJSON_AddItemToArray(cJSON_AddArrayToObject(is, "Details"), d);
            d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "Name", "reachability");
            cJSON_AddStringToObject(d, "Status", !strcmp(reach, "failed") ? "passed" : reach);
            cJSON_AddItemToArray(cJSON_AddArrayToObject(ss, "Details"), d);
        }
        cJSON_AddItemToArray(list, s);
    }
    if (st)
        sqlite3_reset(st);
    ec2_filters_free(&fs);
    *result = out;
    return DSS_OK;
}

/* ======================================================================================
 * Launching
 * ====================================================================================== */

static const cJSON *obj(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

/* Instance tags from TagSpecifications (ResourceType instance), appended to tags. */
static void add_instance_tags(cJSON *tags, const cJSON *specs)
{
    const cJSON *spec, *t;
    cJSON_ArrayForEach(spec, specs) {
        const char *rt = cJSON_GetStringValue(obj(spec, "ResourceType"));
        if (rt && strcmp(rt, "instance"))
            continue;
        cJSON_ArrayForEach(t, obj(spec, "Tags")) {
            const char *k = cJSON_GetStringValue(obj(t, "Key"));
            if (!k)
                continue;
            int idx = 0;
            for (cJSON *e = tags->child; e; e = e->next, idx++) /* a later spec overrides a key */
                if (!strcmp(cJSON_GetStringValue(obj(e, "Key")), k)) {
                    cJSON_DeleteItemFromArray(tags, idx);
                    break;
                }
            cJSON_AddItemToArray(tags, cJSON_Duplicate(t, 1));
        }
    }
}

static int is_spot(const cJSON *market)
{
    const char *m = cJSON_GetStringValue(obj(market, "MarketType"));
    return m && !strcmp(m, "spot");
}

/* RunInstances: ImageId, InstanceType, MinCount, MaxCount, LaunchTemplate, TagSpecifications,
 * InstanceMarketOptions, Placement, KeyName, UserData, ClientToken -> Reservation. */
static int op_run_instances(struct dss_call *call, const cJSON *params, cJSON **result)
{
    int64_t min = 0, max = 0;
    if (dss_param_int(params, "MinCount", &min) != 0)
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter MinCount");
    if (dss_param_int(params, "MaxCount", &max) != 0)
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter MaxCount");
    if (min < 1)
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "Value (%lld) for parameter minCount is invalid. Expected a positive integer.", (long long)min);
    if (max < 1 || max < min)
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "Value (%lld) for parameter maxCount is invalid. Expected a value no less than minCount.",
                        (long long)max);
    if (min > MAX_LAUNCH)
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "Value (%lld) for parameter minCount is invalid. dss launches at most %d at once.",
                        (long long)min, MAX_LAUNCH);
    if (max > MAX_LAUNCH)
        max = MAX_LAUNCH;
    cJSON *data = NULL;
    char lt_id[32] = "", lt_name[160] = "", lt_ver[24] = "";
    const cJSON *lt = obj(params, "LaunchTemplate");
    if (lt) {
        int64_t v = 0;
        data = ec2_launch_template_data(call, cJSON_GetStringValue(obj(lt, "LaunchTemplateId")),
                                        cJSON_GetStringValue(obj(lt, "LaunchTemplateName")),
                                        cJSON_GetStringValue(obj(lt, "Version")), lt_id, lt_name, &v);
        if (!data)
            return DSS_ERR;
        snprintf(lt_ver, sizeof lt_ver, "%lld", (long long)v);
    }
    const char *image = dss_param_str(params, "ImageId");
    const char *type = dss_param_str(params, "InstanceType");
    if (!image)
        image = cJSON_GetStringValue(obj(data, "ImageId"));
    if (!type)
        type = cJSON_GetStringValue(obj(data, "InstanceType"));
    if (!type)
        type = "m1.small"; /* AWS's default when neither the call nor the template names one */
    int rc = DSS_ERR;
    cJSON *tags = cJSON_CreateArray(), *out = NULL;
    if (!image) {
        dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter ImageId");
        goto out;
    }
    if (!valid_hex_id(image, "ami-")) {
        dss_fail(call, DSS_E_InvalidAMIIDMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")", image);
        goto out;
    }
    if (!valid_instance_type(type)) {
        dss_fail(call, DSS_E_InvalidParameterValue, "Invalid value '%s' for InstanceType.", type);
        goto out;
    }
    const cJSON *market = obj(params, "InstanceMarketOptions");
    if (!market)
        market = obj(data, "InstanceMarketOptions");
    const char *mt = cJSON_GetStringValue(obj(market, "MarketType"));
    if (mt && strcmp(mt, "spot") && strcmp(mt, "capacity-block")) {
        dss_fail(call, DSS_E_InvalidParameterValue, "Invalid value '%s' for marketType", mt);
        goto out;
    }
    add_instance_tags(tags, obj(data, "TagSpecifications"));
    add_instance_tags(tags, obj(params, "TagSpecifications"));
    char res_id[32];
    if (ec2_new_id("reservation", "r-", 17, res_id, sizeof res_id)) {
        dss_fail(call, DSS_E_Ec2InternalError, "An internal error has occurred");
        goto out;
    }
    const char *az = cJSON_GetStringValue(obj(obj(params, "Placement"), "AvailabilityZone"));
    if (!az)
        az = cJSON_GetStringValue(obj(obj(data, "Placement"), "AvailabilityZone"));
    struct ec2_launch l = {
        .region = dss_call_region(call), .image_id = image, .instance_type = type, .spot = is_spot(market),
        .az = az,
        .key_name = dss_param_str(params, "KeyName") ? dss_param_str(params, "KeyName")
                                                      : cJSON_GetStringValue(obj(data, "KeyName")),
        .user_data = dss_param_str(params, "UserData") ? dss_param_str(params, "UserData")
                                                        : cJSON_GetStringValue(obj(data, "UserData")),
        .lt_id = lt_id[0] ? lt_id : NULL, .lt_name = lt_name[0] ? lt_name : NULL,
        .lt_version = lt_ver[0] ? lt_ver : NULL, .reservation_id = res_id,
        .client_token = dss_param_str(params, "ClientToken"), .tags = tags};
    if (l.lt_id) { /* as AWS does: the template's id and version become instance tags */
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "Key", "aws:ec2launchtemplate:id");
        cJSON_AddStringToObject(t, "Value", lt_id);
        cJSON_AddItemToArray(tags, t);
        t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "Key", "aws:ec2launchtemplate:version");
        cJSON_AddStringToObject(t, "Value", lt_ver);
        cJSON_AddItemToArray(tags, t);
    }
    out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "ReservationId", res_id);
    cJSON_AddStringToObject(out, "OwnerId", EC2_ACCOUNT_ID);
    cJSON_AddItemToObject(out, "Groups", cJSON_CreateArray());
    cJSON *instances = cJSON_AddArrayToObject(out, "Instances");
    for (int64_t k = 0; k < max; k++) {
        char id[20];
        l.launch_index = (int)k;
        if (ec2_launch_instance(&l, id)) {
            dss_fail(call, DSS_E_Ec2InternalError, "An internal error has occurred");
            goto out;
        }
        sqlite3_stmt *st = dss_stmt(call, "SELECT " INST_COLS " FROM ec2_instances WHERE id = ?");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(st) == SQLITE_ROW)
            cJSON_AddItemToArray(instances, instance_json(st));
        sqlite3_reset(st);
    }
    instances_poke();
    *result = out;
    out = NULL;
    rc = DSS_OK;
out:
    cJSON_Delete(out);
    cJSON_Delete(tags);
    cJSON_Delete(data);
    return rc;
}

/* ======================================================================================
 * State changes
 * ====================================================================================== */

static cJSON *state_change(const char *id, const char *prev, const char *cur)
{
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "InstanceId", id);
    cJSON_AddItemToObject(c, "CurrentState", state_json(cur));
    cJSON_AddItemToObject(c, "PreviousState", state_json(prev));
    return c;
}

/* TerminateInstances: InstanceIds -> TerminatingInstances. */
static int op_terminate_instances(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *ids = obj(params, "InstanceIds");
    if (!cJSON_GetArraySize(ids))
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter InstanceId");
    if (check_instance_ids(call, ids))
        return DSS_ERR;
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "TerminatingInstances");
    const cJSON *v;
    cJSON_ArrayForEach(v, ids) {
        char prev[32], cur[32];
        ec2_instance_state(v->valuestring, prev, sizeof prev);
        ec2_terminate_instance(v->valuestring, NULL, NULL);
        ec2_instance_state(v->valuestring, cur, sizeof cur);
        cJSON_AddItemToArray(list, state_change(v->valuestring, prev, cur));
    }
    *result = out;
    return DSS_OK;
}

/* StopInstances / StartInstances / RebootInstances: InstanceIds. */
static int stop_start(struct dss_call *call, const cJSON *params, cJSON **result, int start)
{
    const cJSON *ids = obj(params, "InstanceIds");
    if (!cJSON_GetArraySize(ids))
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter InstanceId");
    if (check_instance_ids(call, ids))
        return DSS_ERR;
    const cJSON *v;
    cJSON_ArrayForEach(v, ids) { /* check all before changing any */
        char state[32];
        ec2_instance_state(v->valuestring, state, sizeof state);
        sqlite3_stmt *st = dss_stmt(call, "SELECT lifecycle FROM ec2_instances WHERE id = ?");
        sqlite3_bind_text(st, 1, v->valuestring, -1, SQLITE_STATIC);
        int spot = sqlite3_step(st) == SQLITE_ROW && !strcmp(col(st, 0), "spot");
        sqlite3_reset(st);
        if (!start && spot)
            return dss_fail(call, DSS_E_Ec2UnsupportedOperation,
                            "You can't stop the Spot Instance '%s' because it is associated with a one-time "
                            "Spot Instance request. You can only stop Spot Instances associated with a "
                            "persistent Spot Instance request.", v->valuestring);
        if (!strcmp(state, EC2_TERMINATED) || !strcmp(state, EC2_SHUTTING_DOWN))
            return dss_fail(call, DSS_E_IncorrectInstanceState,
                            start ? "The instance '%s' is not in a state from which it can be started."
                                  : "This instance '%s' is not in a state from which it can be stopped.",
                            v->valuestring);
        if (start && !strcmp(state, EC2_STOPPING))
            return dss_fail(call, DSS_E_IncorrectInstanceState,
                            "The instance '%s' is not in a state from which it can be started.", v->valuestring);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, start ? "StartingInstances" : "StoppingInstances");
    int64_t now = dss_clock_now_ms();
    cJSON_ArrayForEach(v, ids) {
        char prev[32], cur[32];
        ec2_instance_state(v->valuestring, prev, sizeof prev);
        sqlite3_stmt *st = dss_stmt(call, start
            ? "UPDATE ec2_instances SET state = 'pending', state_ms = ?1, due_ms = ?2, reason = '', "
              "reason_code = NULL, reason_msg = NULL WHERE id = ?3 AND state = 'stopped'"
            : "UPDATE ec2_instances SET state = 'stopping', state_ms = ?1, due_ms = ?2, "
              "reason = 'User initiated', reason_code = 'Client.UserInitiatedShutdown', "
              "reason_msg = 'Client.UserInitiatedShutdown: User initiated shutdown' "
              "WHERE id = ?3 AND state IN ('pending', 'running')");
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_int64(st, 2, now + (start ? ec2_timings.boot_ms : ec2_timings.shutdown_ms));
        sqlite3_bind_text(st, 3, v->valuestring, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
        ec2_instance_state(v->valuestring, cur, sizeof cur);
        cJSON_AddItemToArray(list, state_change(v->valuestring, prev, cur));
    }
    instances_poke();
    *result = out;
    return DSS_OK;
}

static int op_stop_instances(struct dss_call *call, const cJSON *params, cJSON **result)
{
    return stop_start(call, params, result, 0);
}

static int op_start_instances(struct dss_call *call, const cJSON *params, cJSON **result)
{
    return stop_start(call, params, result, 1);
}

/* RebootInstances: InstanceIds. The worker keeps running (a reboot keeps the instance). */
static int op_reboot_instances(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    const cJSON *ids = obj(params, "InstanceIds");
    if (!cJSON_GetArraySize(ids))
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter InstanceId");
    return check_instance_ids(call, ids) ? DSS_ERR : DSS_OK;
}

/* ======================================================================================
 * Tags
 * ====================================================================================== */

static const char *resource_type(const char *id)
{
    return !strncmp(id, "i-", 2) ? "instance" : !strncmp(id, "lt-", 3) ? "launch-template"
         : !strncmp(id, "sir-", 4) ? "spot-instances-request" : !strncmp(id, "ami-", 4) ? "image" : NULL;
}

static int check_resources(struct dss_call *call, const cJSON *res)
{
    if (!cJSON_GetArraySize(res))
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter resourceIdSet");
    const cJSON *v;
    cJSON_ArrayForEach(v, res) {
        const char *id = cJSON_GetStringValue(v);
        if (!id || !resource_type(id))
            return dss_fail(call, DSS_E_InvalidID, "The ID '%s' is not valid", id ? id : "");
        char state[32];
        if (!strncmp(id, "i-", 2)) {
            if (!valid_hex_id(id, "i-"))
                return dss_fail(call, DSS_E_InvalidInstanceIDMalformed, "Invalid id: \"%s\"", id);
            if (ec2_instance_state(id, state, sizeof state))
                return dss_fail(call, DSS_E_InvalidInstanceIDNotFound, "The instance ID '%s' does not exist", id);
        }
    }
    return 0;
}

/* CreateTags: Resources, Tags. */
static int op_create_tags(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    const cJSON *res = obj(params, "Resources"), *tags = obj(params, "Tags"), *r, *t;
    if (check_resources(call, res))
        return DSS_ERR;
    if (!cJSON_GetArraySize(tags))
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter Tag");
    cJSON_ArrayForEach(t, tags) {
        const char *k = cJSON_GetStringValue(obj(t, "Key"));
        if (!k || !*k || strlen(k) > 128)
            return dss_fail(call, DSS_E_InvalidParameterValue, "Tag keys must be between 1 and 128 characters");
        if (!strncmp(k, "aws:", 4))
            return dss_fail(call, DSS_E_InvalidParameterValue,
                            "Tag keys starting with 'aws:' are reserved for internal use");
        const char *v = cJSON_GetStringValue(obj(t, "Value"));
        if (v && strlen(v) > 256)
            return dss_fail(call, DSS_E_InvalidParameterValue, "Tag values may be at most 256 characters");
    }
    cJSON_ArrayForEach(r, res)
        cJSON_ArrayForEach(t, tags)
            ec2_tag_set(r->valuestring, cJSON_GetStringValue(obj(t, "Key")), cJSON_GetStringValue(obj(t, "Value")));
    return DSS_OK;
}

/* DeleteTags: Resources, Tags (a Value given deletes only a tag with that value). */
static int op_delete_tags(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    const cJSON *res = obj(params, "Resources"), *tags = obj(params, "Tags"), *r, *t;
    if (check_resources(call, res))
        return DSS_ERR;
    cJSON_ArrayForEach(r, res) {
        if (!cJSON_GetArraySize(tags)) {
            sqlite3_stmt *st = dss_stmt(call, "DELETE FROM ec2_tags WHERE resource_id = ?");
            sqlite3_bind_text(st, 1, r->valuestring, -1, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_reset(st);
            continue;
        }
        cJSON_ArrayForEach(t, tags) {
            const char *v = cJSON_GetStringValue(obj(t, "Value"));
            sqlite3_stmt *st = dss_stmt(call, "DELETE FROM ec2_tags WHERE resource_id = ?1 AND key = ?2 "
                                              "AND (?3 IS NULL OR value = ?3)");
            sqlite3_bind_text(st, 1, r->valuestring, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, cJSON_GetStringValue(obj(t, "Key")), -1, SQLITE_STATIC);
            if (v)
                sqlite3_bind_text(st, 3, v, -1, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
    return DSS_OK;
}

struct tag_ctx {
    const char *id, *key, *value;
};

static const char *tag_filter_value(void *p, const char *name, int i)
{
    struct tag_ctx *t = p;
    if (i > 0)
        return NULL;
    return !strcmp(name, "resource-id") ? t->id : !strcmp(name, "resource-type") ? resource_type(t->id)
         : !strcmp(name, "key") ? t->key : !strcmp(name, "value") ? t->value : NULL;
}

/* DescribeTags: Filters (resource-id, resource-type, key, value) -> Tags. */
static int op_describe_tags(struct dss_call *call, const cJSON *params, cJSON **result)
{
    static const char *const allowed[] = {"resource-id", "resource-type", "key", "value", NULL};
    struct ec2_filters fs;
    char err[512];
    if (ec2_filters_parse(obj(params, "Filters"), allowed, &fs, err, sizeof err))
        return dss_fail(call, DSS_E_InvalidParameterValue, "%s", err);
    sqlite3_stmt *st = dss_stmt(call, "SELECT resource_id, key, value FROM ec2_tags ORDER BY resource_id, key");
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "Tags");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        struct tag_ctx t = {col(st, 0), col(st, 1), col(st, 2)};
        if (!resource_type(t.id) || !ec2_filters_match(&fs, tag_filter_value, &t))
            continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "Key", t.key);
        cJSON_AddStringToObject(e, "ResourceId", t.id);
        cJSON_AddStringToObject(e, "ResourceType", resource_type(t.id));
        cJSON_AddStringToObject(e, "Value", t.value);
        cJSON_AddItemToArray(list, e);
    }
    if (st)
        sqlite3_reset(st);
    ec2_filters_free(&fs);
    *result = out;
    return DSS_OK;
}

/* ======================================================================================
 * Launch templates
 * ====================================================================================== */

static int valid_lt_name(const char *n)
{
    size_t len = strlen(n);
    if (len < 3 || len > 128)
        return 0;
    for (const char *p = n; *p; p++)
        if (!isalnum((unsigned char)*p) && !strchr("()./_-", *p))
            return 0;
    return 1;
}

/* Looks a template up by id or name; fills id, name and versions. Returns 0 or -1 (error
 * recorded on call when non-NULL). */
static int lt_find(struct dss_call *call, const char *id, const char *name, char lt_id[32], char lt_name[160],
                   int64_t *dflt, int64_t *latest, int64_t *created)
{
    if (!id && !name) {
        if (call)
            dss_fail(call, DSS_E_MissingParameter,
                     "The request must include either the launch template ID or the launch template name.");
        return -1;
    }
    if (id && !valid_hex_id(id, "lt-")) {
        if (call)
            dss_fail(call, DSS_E_InvalidLaunchTemplateIdMalformed,
                     "The specified ID for the launch template (%s) is not valid.", id);
        return -1;
    }
    sqlite3_stmt *st = dss_stmt(NULL, id ? "SELECT id, name, default_version, latest_version, created_ms "
                                           "FROM ec2_launch_templates WHERE id = ?"
                                         : "SELECT id, name, default_version, latest_version, created_ms "
                                           "FROM ec2_launch_templates WHERE name = ?");
    sqlite3_bind_text(st, 1, id ? id : name, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(lt_id, 32, "%s", col(st, 0));
        snprintf(lt_name, 160, "%s", col(st, 1));
        *dflt = sqlite3_column_int64(st, 2);
        *latest = sqlite3_column_int64(st, 3);
        if (created)
            *created = sqlite3_column_int64(st, 4);
        rc = 0;
    }
    sqlite3_reset(st);
    if (rc && call) {
        if (id)
            dss_fail(call, DSS_E_InvalidLaunchTemplateIdNotFound,
                     "The specified launch template, with template ID %s, does not exist.", id);
        else
            dss_fail(call, DSS_E_InvalidLaunchTemplateNameNotFound,
                     "The specified launch template, with template name %s, does not exist.", name);
    }
    return rc;
}

cJSON *ec2_launch_template_data(struct dss_call *call, const char *id, const char *name, const char *version,
                                char lt_id[32], char lt_name[160], int64_t *version_out)
{
    int64_t dflt, latest, v;
    if (lt_find(call, id, name, lt_id, lt_name, &dflt, &latest, NULL))
        return NULL;
    if (!version || !strcmp(version, "$Default")) {
        v = dflt;
    } else if (!strcmp(version, "$Latest")) {
        v = latest;
    } else {
        char *end;
        v = strtoll(version, &end, 10);
        if (!*version || *end || v < 1) {
            if (call)
                dss_fail(call, DSS_E_InvalidParameterValue,
                         "The launch template version %s is not valid.", version);
            return NULL;
        }
    }
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT data FROM ec2_lt_versions WHERE lt_id = ? AND version = ?");
    sqlite3_bind_text(st, 1, lt_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    cJSON *data = sqlite3_step(st) == SQLITE_ROW ? cJSON_Parse(col(st, 0)) : NULL;
    sqlite3_reset(st);
    if (!data && call)
        dss_fail(call, DSS_E_InvalidLaunchTemplateVersion,
                 "Could not find launch template version %lld for the launch template %s.", (long long)v, lt_id);
    *version_out = v;
    return data;
}

static cJSON *lt_json(const char *id, const char *name, int64_t created, int64_t dflt, int64_t latest)
{
    cJSON *t = cJSON_CreateObject();
    cJSON_AddStringToObject(t, "LaunchTemplateId", id);
    cJSON_AddStringToObject(t, "LaunchTemplateName", name);
    cJSON_AddNumberToObject(t, "CreateTime", whole_seconds(created));
    cJSON_AddStringToObject(t, "CreatedBy", "arn:aws:iam::" EC2_ACCOUNT_ID ":root");
    cJSON_AddNumberToObject(t, "DefaultVersionNumber", (double)dflt);
    cJSON_AddNumberToObject(t, "LatestVersionNumber", (double)latest);
    cJSON *tags = ec2_tags_json(id);
    if (cJSON_GetArraySize(tags))
        cJSON_AddItemToObject(t, "Tags", tags);
    else
        cJSON_Delete(tags);
    return t;
}

static int lt_insert_version(const char *id, int64_t v, const char *desc, const cJSON *data, int64_t now)
{
    char *text = cJSON_PrintUnformatted(data);
    sqlite3_stmt *st = dss_stmt(NULL, "INSERT INTO ec2_lt_versions(lt_id, version, description, data, created_ms) "
                                      "VALUES(?, ?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    if (desc)
        sqlite3_bind_text(st, 3, desc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, text ? text : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, now);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    free(text);
    return rc;
}

/* CreateLaunchTemplate: LaunchTemplateName, VersionDescription, LaunchTemplateData,
 * TagSpecifications -> LaunchTemplate. */
static int op_create_launch_template(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name = dss_param_str(params, "LaunchTemplateName");
    const cJSON *data = obj(params, "LaunchTemplateData");
    if (!name)
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter LaunchTemplateName");
    if (!data)
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter LaunchTemplateData");
    if (!valid_lt_name(name))
        return dss_fail(call, DSS_E_InvalidParameterValue,
                        "1 validation error detected: Value '%s' at 'launchTemplateName' failed to satisfy "
                        "constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9\\(\\)\\.\\-/_]+",
                        name);
    char id[32], n2[160];
    int64_t d, l;
    if (lt_find(NULL, NULL, name, id, n2, &d, &l, NULL) == 0)
        return dss_fail(call, DSS_E_InvalidLaunchTemplateNameExists,
                        "Launch template name already in use.");
    const char *image = cJSON_GetStringValue(obj(data, "ImageId"));
    if (image && !valid_hex_id(image, "ami-"))
        return dss_fail(call, DSS_E_InvalidAMIIDMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")", image);
    if (ec2_new_id("launch-template", "lt-", 17, id, sizeof id))
        return dss_fail(call, DSS_E_Ec2InternalError, "An internal error has occurred");
    int64_t now = dss_clock_now_ms();
    sqlite3_stmt *st = dss_stmt(call, "INSERT INTO ec2_launch_templates(id, name, created_ms, default_version, "
                                      "latest_version) VALUES(?, ?, ?, 1, 1)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    if (!ok || lt_insert_version(id, 1, dss_param_str(params, "VersionDescription"), data, now))
        return dss_fail(call, DSS_E_Ec2InternalError, "An internal error has occurred");
    const cJSON *spec, *t;
    cJSON_ArrayForEach(spec, obj(params, "TagSpecifications"))
        cJSON_ArrayForEach(t, obj(spec, "Tags"))
            ec2_tag_set(id, cJSON_GetStringValue(obj(t, "Key")), cJSON_GetStringValue(obj(t, "Value")));
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "LaunchTemplate", lt_json(id, name, now, 1, 1));
    *result = out;
    return DSS_OK;
}

/* DescribeLaunchTemplates: LaunchTemplateIds, LaunchTemplateNames, Filters -> LaunchTemplates. */
static int op_describe_launch_templates(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *ids = obj(params, "LaunchTemplateIds"), *names = obj(params, "LaunchTemplateNames"), *v;
    char id[32], name[160];
    int64_t d, l, created;
    cJSON_ArrayForEach(v, ids)
        if (lt_find(call, cJSON_GetStringValue(v) ? v->valuestring : "", NULL, id, name, &d, &l, NULL))
            return DSS_ERR;
    cJSON_ArrayForEach(v, names)
        if (lt_find(NULL, NULL, cJSON_GetStringValue(v) ? v->valuestring : "", id, name, &d, &l, NULL))
            return dss_fail(call, DSS_E_InvalidLaunchTemplateNameNotFound,
                            "At least one of the launch templates specified in the request does not exist.");
    static const char *const allowed[] = {"launch-template-name", "tag-key", "tag:", NULL};
    struct ec2_filters fs;
    char err[512];
    if (ec2_filters_parse(obj(params, "Filters"), allowed, &fs, err, sizeof err))
        return dss_fail(call, DSS_E_InvalidParameterValue, "%s", err);
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "LaunchTemplates");
    sqlite3_stmt *st = dss_stmt(call, "SELECT id, name, created_ms, default_version, latest_version "
                                      "FROM ec2_launch_templates ORDER BY created_ms, id");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        const char *tid = col(st, 0), *tname = col(st, 1);
        if ((cJSON_GetArraySize(ids) && !id_listed(ids, tid)) || (cJSON_GetArraySize(names) && !id_listed(names, tname)))
            continue;
        int keep = 1;
        for (int k = 0; k < fs.n && keep; k++) {
            if (!strcmp(fs.f[k].name, "launch-template-name")) {
                keep = ec2_filter_value_match(&fs.f[k], tname);
                continue;
            }
            cJSON *tags = ec2_tags_json(tid);
            const cJSON *t;
            keep = 0;
            cJSON_ArrayForEach(t, tags) {
                const char *key = cJSON_GetStringValue(obj(t, "Key")), *val = cJSON_GetStringValue(obj(t, "Value"));
                if (!strcmp(fs.f[k].name, "tag-key") ? ec2_filter_value_match(&fs.f[k], key)
                    : !strcmp(key, fs.f[k].name + 4) && ec2_filter_value_match(&fs.f[k], val))
                    keep = 1;
            }
            cJSON_Delete(tags);
        }
        if (keep)
            cJSON_AddItemToArray(list, lt_json(tid, tname, sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
                                               sqlite3_column_int64(st, 4)));
    }
    if (st)
        sqlite3_reset(st);
    ec2_filters_free(&fs);
    (void)created;
    *result = out;
    return DSS_OK;
}

static cJSON *lt_version_json(const char *id, const char *name, int64_t v, int64_t dflt)
{
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT description, data, created_ms FROM ec2_lt_versions "
                                      "WHERE lt_id = ? AND version = ?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, v);
    cJSON *out = NULL;
    if (sqlite3_step(st) == SQLITE_ROW) {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "LaunchTemplateId", id);
        cJSON_AddStringToObject(out, "LaunchTemplateName", name);
        cJSON_AddNumberToObject(out, "VersionNumber", (double)v);
        if (sqlite3_column_type(st, 0) != SQLITE_NULL)
            cJSON_AddStringToObject(out, "VersionDescription", col(st, 0));
        cJSON_AddNumberToObject(out, "CreateTime", whole_seconds(sqlite3_column_int64(st, 2)));
        cJSON_AddStringToObject(out, "CreatedBy", "arn:aws:iam::" EC2_ACCOUNT_ID ":root");
        cJSON_AddBoolToObject(out, "DefaultVersion", v == dflt);
        cJSON *data = cJSON_Parse(col(st, 1));
        cJSON_AddItemToObject(out, "LaunchTemplateData", data ? data : cJSON_CreateObject());
    }
    sqlite3_reset(st);
    return out;
}

/* CreateLaunchTemplateVersion: LaunchTemplateId|Name, SourceVersion, VersionDescription,
 * LaunchTemplateData -> LaunchTemplateVersion. */
static int op_create_launch_template_version(struct dss_call *call, const cJSON *params, cJSON **result)
{
    char id[32], name[160];
    int64_t dflt, latest;
    const cJSON *data = obj(params, "LaunchTemplateData");
    if (!data)
        return dss_fail(call, DSS_E_MissingParameter, "The request must contain the parameter LaunchTemplateData");
    if (lt_find(call, dss_param_str(params, "LaunchTemplateId"), dss_param_str(params, "LaunchTemplateName"), id,
                name, &dflt, &latest, NULL))
        return DSS_ERR;
    cJSON *merged;
    const char *src = dss_param_str(params, "SourceVersion");
    if (src) {
        int64_t sv;
        char i2[32], n2[160];
        merged = ec2_launch_template_data(call, id, NULL, src, i2, n2, &sv);
        if (!merged)
            return DSS_ERR;
        const cJSON *m;
        cJSON_ArrayForEach(m, data) { /* top-level members of the new data replace the source's */
            cJSON_DeleteItemFromObjectCaseSensitive(merged, m->string);
            cJSON_AddItemToObject(merged, m->string, cJSON_Duplicate(m, 1));
        }
    } else {
        merged = cJSON_Duplicate(data, 1);
    }
    int64_t now = dss_clock_now_ms(), v = latest + 1;
    int rc = lt_insert_version(id, v, dss_param_str(params, "VersionDescription"), merged, now);
    cJSON_Delete(merged);
    sqlite3_stmt *st = dss_stmt(call, "UPDATE ec2_launch_templates SET latest_version = ? WHERE id = ?");
    sqlite3_bind_int64(st, 1, v);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    if (rc || sqlite3_step(st) != SQLITE_DONE) {
        sqlite3_reset(st);
        return dss_fail(call, DSS_E_Ec2InternalError, "An internal error has occurred");
    }
    sqlite3_reset(st);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "LaunchTemplateVersion", lt_version_json(id, name, v, dflt));
    *result = out;
    return DSS_OK;
}

/* DescribeLaunchTemplateVersions: LaunchTemplateId|Name, Versions -> LaunchTemplateVersions. */
static int op_describe_launch_template_versions(struct dss_call *call, const cJSON *params, cJSON **result)
{
    char id[32], name[160];
    int64_t dflt, latest;
    if (lt_find(call, dss_param_str(params, "LaunchTemplateId"), dss_param_str(params, "LaunchTemplateName"), id,
                name, &dflt, &latest, NULL))
        return DSS_ERR;
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "LaunchTemplateVersions");
    const cJSON *vs = obj(params, "Versions"), *v;
    if (cJSON_GetArraySize(vs)) {
        cJSON_ArrayForEach(v, vs) {
            const char *s = cJSON_GetStringValue(v);
            int64_t n = !s ? 0 : !strcmp(s, "$Latest") ? latest : !strcmp(s, "$Default") ? dflt : strtoll(s, NULL, 10);
            cJSON *e = n > 0 ? lt_version_json(id, name, n, dflt) : NULL;
            if (!e) {
                cJSON_Delete(out);
                return dss_fail(call, DSS_E_InvalidLaunchTemplateVersion,
                                "Could not find launch template version %s for the launch template %s.",
                                s ? s : "", id);
            }
            cJSON_AddItemToArray(list, e);
        }
    } else {
        for (int64_t n = latest; n >= 1; n--) {
            cJSON *e = lt_version_json(id, name, n, dflt);
            if (e)
                cJSON_AddItemToArray(list, e);
        }
    }
    *result = out;
    return DSS_OK;
}

/* DeleteLaunchTemplate: LaunchTemplateId|Name -> LaunchTemplate. */
static int op_delete_launch_template(struct dss_call *call, const cJSON *params, cJSON **result)
{
    char id[32], name[160];
    int64_t dflt, latest, created;
    if (lt_find(call, dss_param_str(params, "LaunchTemplateId"), dss_param_str(params, "LaunchTemplateName"), id,
                name, &dflt, &latest, &created))
        return DSS_ERR;
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "LaunchTemplate", lt_json(id, name, created, dflt, latest));
    sqlite3_stmt *st = dss_stmt(call, "DELETE FROM ec2_launch_templates WHERE id = ?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    st = dss_stmt(call, "DELETE FROM ec2_tags WHERE resource_id = ?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    *result = out;
    return DSS_OK;
}

/* ======================================================================================
 * Spot requests, images, types, zones, regions
 * ====================================================================================== */

/* DescribeSpotInstanceRequests: SpotInstanceRequestIds -> SpotInstanceRequests (one per
 * Spot instance: one-time requests, fulfilled while the instance lives). */
static int op_describe_spot_instance_requests(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *ids = obj(params, "SpotInstanceRequestIds");
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "SpotInstanceRequests");
    sqlite3_stmt *st = dss_stmt(call, "SELECT spot_request_id, id, state, image_id, instance_type, az, launch_ms, "
                                      "reason_code FROM ec2_instances WHERE lifecycle = 'spot' ORDER BY seq");
    while (st && sqlite3_step(st) == SQLITE_ROW) {
        if (cJSON_GetArraySize(ids) && !id_listed(ids, col(st, 0)))
            continue;
        int alive = strcmp(col(st, 2), EC2_TERMINATED) && strcmp(col(st, 2), EC2_SHUTTING_DOWN);
        int by_service = !strcmp(col(st, 7), "Server.SpotInstanceTermination");
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "SpotInstanceRequestId", col(st, 0));
        cJSON_AddStringToObject(r, "InstanceId", col(st, 1));
        cJSON_AddStringToObject(r, "State", alive ? "active" : "closed");
        cJSON *s = cJSON_AddObjectToObject(r, "Status");
        cJSON_AddStringToObject(s, "Code", alive ? "fulfilled" : by_service ? "instance-terminated-by-price"
                                                                           : "instance-terminated-by-user");
        cJSON_AddStringToObject(s, "Message", alive ? "Your spot request is fulfilled." : "Your instance was terminated.");
        cJSON_AddStringToObject(r, "Type", "one-time");
        cJSON_AddStringToObject(r, "ProductDescription", "Linux/UNIX");
        cJSON_AddNumberToObject(r, "CreateTime", whole_seconds(sqlite3_column_int64(st, 6)));
        cJSON_AddStringToObject(r, "LaunchedAvailabilityZone", col(st, 5));
        cJSON_AddStringToObject(r, "InstanceInterruptionBehavior", "terminate");
        cJSON *ls = cJSON_AddObjectToObject(r, "LaunchSpecification");
        cJSON_AddStringToObject(ls, "ImageId", col(st, 3));
        cJSON_AddStringToObject(ls, "InstanceType", col(st, 4));
        cJSON_AddItemToArray(list, r);
    }
    if (st)
        sqlite3_reset(st);
    *result = out;
    return DSS_OK;
}

static const char *const default_images[] = {"ami-0dss0000000000001", "ami-0dss0000000000002", NULL};

/* DescribeImages: ImageIds -> Images (any well-formed ami- id exists, as an Amazon Linux). */
static int op_describe_images(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *ids = obj(params, "ImageIds"), *v;
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "Images");
    cJSON *want = cJSON_CreateArray();
    if (cJSON_GetArraySize(ids)) {
        cJSON_ArrayForEach(v, ids) {
            if (!cJSON_IsString(v) || !valid_hex_id(v->valuestring, "ami-")) {
                cJSON_Delete(want);
                cJSON_Delete(out);
                return dss_fail(call, DSS_E_InvalidAMIIDMalformed, "Invalid id: \"%s\" (expecting \"ami-...\")",
                                cJSON_IsString(v) ? v->valuestring : "");
            }
            cJSON_AddItemToArray(want, cJSON_CreateString(v->valuestring));
        }
    } else {
        for (int i = 0; default_images[i]; i++)
            cJSON_AddItemToArray(want, cJSON_CreateString(default_images[i]));
    }
    cJSON_ArrayForEach(v, want) {
        cJSON *img = cJSON_CreateObject();
        cJSON_AddStringToObject(img, "ImageId", v->valuestring);
        cJSON_AddStringToObject(img, "Name", "dss-linux-x86_64");
        cJSON_AddStringToObject(img, "Architecture", "x86_64");
        cJSON_AddStringToObject(img, "CreationDate", "2024-01-01T00:00:00.000Z");
        cJSON_AddStringToObject(img, "ImageLocation", "amazon/dss-linux-x86_64");
        cJSON_AddStringToObject(img, "ImageType", "machine");
        cJSON_AddBoolToObject(img, "Public", 1);
        cJSON_AddStringToObject(img, "OwnerId", "137112412989");
        cJSON_AddStringToObject(img, "PlatformDetails", "Linux/UNIX");
        cJSON_AddStringToObject(img, "State", "available");
        cJSON_AddStringToObject(img, "RootDeviceName", "/dev/xvda");
        cJSON_AddStringToObject(img, "RootDeviceType", "ebs");
        cJSON_AddStringToObject(img, "VirtualizationType", "hvm");
        cJSON_AddStringToObject(img, "Hypervisor", "xen");
        cJSON_AddItemToArray(list, img);
    }
    cJSON_Delete(want);
    *result = out;
    return DSS_OK;
}

static const struct { const char *name; int vcpus; int mem_mib; } instance_types[] = {
    {"t3.micro", 2, 1024}, {"t3.small", 2, 2048}, {"t3.medium", 2, 4096}, {"t3.large", 2, 8192},
    {"m5.large", 2, 8192}, {"m5.xlarge", 4, 16384}, {"m5.2xlarge", 8, 32768}, {"c5.large", 2, 4096},
    {"c5.xlarge", 4, 8192}, {"c5.2xlarge", 8, 16384}, {"r5.large", 2, 16384}, {"m1.small", 1, 1740},
    {NULL, 0, 0}};

/* DescribeInstanceTypes: InstanceTypes -> InstanceTypes (a small table). */
static int op_describe_instance_types(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *want = obj(params, "InstanceTypes"), *v;
    cJSON_ArrayForEach(v, want) {
        int found = 0;
        for (int i = 0; instance_types[i].name && !found; i++)
            found = cJSON_IsString(v) && !strcmp(v->valuestring, instance_types[i].name);
        if (!found)
            return dss_fail(call, DSS_E_InvalidParameterValue, "The following supplied instance types do not exist: [%s]",
                            cJSON_IsString(v) ? v->valuestring : "");
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "InstanceTypes");
    for (int i = 0; instance_types[i].name; i++) {
        if (cJSON_GetArraySize(want) && !id_listed(want, instance_types[i].name))
            continue;
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "InstanceType", instance_types[i].name);
        cJSON_AddBoolToObject(t, "CurrentGeneration", 1);
        cJSON *usage = cJSON_AddArrayToObject(t, "SupportedUsageClasses");
        cJSON_AddItemToArray(usage, cJSON_CreateString("on-demand"));
        cJSON_AddItemToArray(usage, cJSON_CreateString("spot"));
        cJSON *pi = cJSON_AddObjectToObject(t, "ProcessorInfo");
        cJSON_AddItemToArray(cJSON_AddArrayToObject(pi, "SupportedArchitectures"), cJSON_CreateString("x86_64"));
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(t, "VCpuInfo"), "DefaultVCpus", instance_types[i].vcpus);
        cJSON_AddNumberToObject(cJSON_AddObjectToObject(t, "MemoryInfo"), "SizeInMiB", instance_types[i].mem_mib);
        cJSON_AddItemToArray(list, t);
    }
    *result = out;
    return DSS_OK;
}

/* DescribeAvailabilityZones -> AvailabilityZones: REGIONa, b, c. */
static int op_describe_availability_zones(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)params;
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "AvailabilityZones");
    const char *region = dss_call_region(call);
    for (int z = 'a'; z <= 'c'; z++) {
        char name[80], id[32];
        snprintf(name, sizeof name, "%s%c", region, z);
        snprintf(id, sizeof id, "use1-az%d", z - 'a' + 1);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "State", "available");
        cJSON_AddStringToObject(e, "OptInStatus", "opt-in-not-required");
        cJSON_AddStringToObject(e, "RegionName", region);
        cJSON_AddStringToObject(e, "ZoneName", name);
        cJSON_AddStringToObject(e, "ZoneId", id);
        cJSON_AddStringToObject(e, "ZoneType", "availability-zone");
        cJSON_AddStringToObject(e, "GroupName", region);
        cJSON_AddStringToObject(e, "NetworkBorderGroup", region);
        cJSON_AddItemToArray(list, e);
    }
    *result = out;
    return DSS_OK;
}

/* DescribeRegions -> Regions. */
static int op_describe_regions(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)call;
    (void)params;
    static const char *const regions[] = {"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1",
                                          "eu-central-1", "ap-southeast-1", "ap-northeast-1", NULL};
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "Regions");
    for (int i = 0; regions[i]; i++) {
        char ep[128];
        snprintf(ep, sizeof ep, "ec2.%s.amazonaws.com", regions[i]);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "Endpoint", ep);
        cJSON_AddStringToObject(e, "RegionName", regions[i]);
        cJSON_AddStringToObject(e, "OptInStatus", "opt-in-not-required");
        cJSON_AddItemToArray(list, e);
    }
    *result = out;
    return DSS_OK;
}

static const struct dss_operation ec2_ops[] = {
    {"RunInstances", op_run_instances, DSS_OP_WRITE},
    {"DescribeInstances", op_describe_instances, DSS_OP_READONLY},
    {"DescribeInstanceStatus", op_describe_instance_status, DSS_OP_READONLY},
    {"TerminateInstances", op_terminate_instances, DSS_OP_WRITE},
    {"StopInstances", op_stop_instances, DSS_OP_WRITE},
    {"StartInstances", op_start_instances, DSS_OP_WRITE},
    {"RebootInstances", op_reboot_instances, DSS_OP_READONLY},
    {"CreateTags", op_create_tags, DSS_OP_WRITE},
    {"DeleteTags", op_delete_tags, DSS_OP_WRITE},
    {"DescribeTags", op_describe_tags, DSS_OP_READONLY},
    {"CreateLaunchTemplate", op_create_launch_template, DSS_OP_WRITE},
    {"DescribeLaunchTemplates", op_describe_launch_templates, DSS_OP_READONLY},
    {"CreateLaunchTemplateVersion", op_create_launch_template_version, DSS_OP_WRITE},
    {"DescribeLaunchTemplateVersions", op_describe_launch_template_versions, DSS_OP_READONLY},
    {"DeleteLaunchTemplate", op_delete_launch_template, DSS_OP_WRITE},
    {"DescribeSpotInstanceRequests", op_describe_spot_instance_requests, DSS_OP_READONLY},
    {"DescribeImages", op_describe_images, DSS_OP_READONLY},
    {"DescribeInstanceTypes", op_describe_instance_types, DSS_OP_READONLY},
    {"DescribeAvailabilityZones", op_describe_availability_zones, DSS_OP_READONLY},
    {"DescribeRegions", op_describe_regions, DSS_OP_READONLY},
    {NULL, NULL, 0},
};

const struct dss_service dss_ec2_service = {
    .name = "ec2",
    .query_version = "2016-11-15",
    .query_model = "ec2",
    .xmlns = "http://ec2.amazonaws.com/doc/2016-11-15/",
    .schema_sql = schema,
    .ops = ec2_ops,
    .start = instances_start,
    .stop = instances_stop,
    .ec2_dialect = 1,
    .control = instances_control,
};
