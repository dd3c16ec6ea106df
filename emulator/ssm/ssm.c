/* ssm.c -- AWS Systems Manager Run Command, API 2014-11-06, JSON 1.1 (X-Amz-Target
 * AmazonSSM.*), and the agent side of it: the message service the worker on each instance
 * polls, as the real SSM agent polls ec2messages (X-Amz-Target
 * EC2WindowsMessageDeliveryService.*).
 *
 * Supported: SendCommand (InstanceIds, or Targets by tag:KEY / tag-key / InstanceIds;
 * AWS-RunShellScript and AWS-RunPowerShellScript with commands, workingDirectory,
 * executionTimeout; TimeoutSeconds; Comment; OutputS3BucketName and OutputS3KeyPrefix: the
 * worker uploads all of stdout and stderr to [PREFIX/]COMMAND/INSTANCE/awsrunShellScript/
 * 0.awsrunShellScript/{stdout,stderr} before it reports, and the URLs name them),
 * GetCommandInvocation, ListCommands, ListCommandInvocations (Details), CancelCommand,
 * DescribeInstanceInformation, UpdateInstanceInformation (what the worker calls at start).
 * Agent side: GetMessages (long poll, parks like an SQS receive), AcknowledgeMessage,
 * SendReply. Parameter Store (PutParameter, GetParameter, ...) is parameters.c, listed in the
 * table at the bottom.
 *
 * Status machine, as AWS documents it: an invocation is Pending until the instance's worker
 * takes it, then InProgress, then Success, Failed (non-zero exit), TimedOut (StatusDetails
 * "Execution Timed Out": executionTimeout, measured by the worker in wall-clock seconds
 * because commands run in real time) or Cancelled. Never delivered within TimeoutSeconds (on
 * the emulator clock): TimedOut / "Delivery Timed Out". GetCommandInvocation shows the first
 * 24,000 characters of stdout and 8,000 of stderr (ListCommandInvocations' Output: 2,500);
 * Comment is at most 100 characters.
 *
 * The dead-agent setting (/_dss/settings?ssm_dead_agent=..., or DSS_SSM_DEAD_AGENT) decides
 * what an invocation does when its instance's worker dies or the instance stops or
 * terminates under it:
 *   timeout (default, as AWS documents): it stays InProgress until TimeoutSeconds +
 *     executionTimeout after it was sent, then reports TimedOut / "Delivery Timed Out"
 *     (Pending ones the same once TimeoutSeconds passes);
 *   missing: it disappears (GetCommandInvocation: InvocationDoesNotExist), as some users
 *     report;
 *   terminated: it ends at once as Failed / "Terminated" (never delivered: "Undeliverable").
 *
 * Limitations: one command at a time per instance (others wait, Pending); no documents
 * other than the two above; MaxConcurrency/MaxErrors are recorded, not applied; the output
 * URLs use the endpoint the client called (path style), not AWS's regional S3 host; no
 * CloudWatch or SNS notifications.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "ec2/ec2.h"
#include "service.h"
#include "ssm/parameters.h"
#include "util.h"

#define OUTPUT_MAX 24000 /* GetCommandInvocation's StandardOutputContent, in characters */
#define ERROR_MAX 8000   /* and StandardErrorContent (the model's max lengths) */
#define DETAIL_OUTPUT_MAX 2500
#define COMMENT_MAX 100
#define POLL_WALL_MS 20000

enum { DEAD_TIMEOUT, DEAD_MISSING, DEAD_TERMINATED };
int ssm_dead_agent_mode = DEAD_TIMEOUT;
const char *const ssm_dead_agent_names[] = {"timeout", "missing", "terminated", NULL};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS ssm_commands("
    "  id TEXT PRIMARY KEY,"
    "  seq INTEGER NOT NULL,"
    "  document TEXT NOT NULL,"
    "  params TEXT NOT NULL,"        /* JSON of Parameters */
    "  comment TEXT NOT NULL DEFAULT '',"
    "  instance_ids TEXT NOT NULL,"  /* JSON array, as given */
    "  targets TEXT NOT NULL,"       /* JSON array, as given */
    "  requested_ms INTEGER NOT NULL,"
    "  timeout_s INTEGER NOT NULL,"  /* delivery timeout (TimeoutSeconds) */
    "  exec_timeout_s INTEGER NOT NULL,"
    "  output_bucket TEXT, output_prefix TEXT,"
    "  max_concurrency TEXT NOT NULL DEFAULT '50', max_errors TEXT NOT NULL DEFAULT '0',"
    "  cancelled INTEGER NOT NULL DEFAULT 0);"
    "CREATE TABLE IF NOT EXISTS ssm_invocations("
    "  command_id TEXT NOT NULL REFERENCES ssm_commands(id) ON DELETE CASCADE,"
    "  instance_id TEXT NOT NULL,"
    "  seq INTEGER NOT NULL,"
    "  status TEXT NOT NULL,"        /* Pending, InProgress, Cancelling, Success, Failed, TimedOut, Cancelled */
    "  details TEXT NOT NULL,"
    "  response_code INTEGER NOT NULL DEFAULT -1,"
    "  stdout TEXT NOT NULL DEFAULT '', stderr TEXT NOT NULL DEFAULT '',"
    "  start_ms INTEGER, end_ms INTEGER,"
    "  cancel_sent INTEGER NOT NULL DEFAULT 0,"
    "  worker_pid INTEGER,"          /* the worker process that took it */
    "  PRIMARY KEY(command_id, instance_id));"
    "CREATE INDEX IF NOT EXISTS ssm_invocations_instance ON ssm_invocations(instance_id, status, seq);"
    /* The timers (ssm_tick, several times a second) look only at live invocations, and each
     * SendCommand takes the next seq: without these both scan every command ever sent, under
     * the write lock -- 20-50 ms a tick at 10,000 commands. */
    "DROP INDEX IF EXISTS ssm_invocations_status;" /* (status) alone: replaced by the one below */
    /* ssm_tick's next deadline reads every live invocation's command: from these two indexes
     * alone, not from the rows (an invocation's holds its output, a command's its parameters). */
    "CREATE INDEX IF NOT EXISTS ssm_invocations_live ON ssm_invocations(status, command_id);"
    "CREATE INDEX IF NOT EXISTS ssm_commands_deadline ON ssm_commands(id, requested_ms, timeout_s, exec_timeout_s);"
    "CREATE INDEX IF NOT EXISTS ssm_invocations_seq ON ssm_invocations(seq);"
    "CREATE INDEX IF NOT EXISTS ssm_commands_seq ON ssm_commands(seq);"
    "CREATE TABLE IF NOT EXISTS ssm_agents("
    "  instance_id TEXT PRIMARY KEY, agent_version TEXT NOT NULL, platform TEXT NOT NULL,"
    "  registered_ms INTEGER NOT NULL);" SSM_PARAMETERS_SCHEMA;

static const cJSON *obj(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

static int terminal(const char *status)
{
    return !strcmp(status, "Success") || !strcmp(status, "Failed") || !strcmp(status, "TimedOut") ||
           !strcmp(status, "Cancelled");
}

/* The first max characters (UTF-8 code points) of s, with invalid bytes as U+FFFD. */
static char *truncate_chars(const char *s, size_t max)
{
    struct buf b;
    buf_init(&b, max * 4 + 1);
    size_t chars = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p && chars < max) {
        int len = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        int ok = len > 0;
        for (int i = 1; i < len && ok; i++)
            ok = (p[i] & 0xC0) == 0x80;
        if (ok) {
            buf_append(&b, p, (size_t)len);
            p += len;
        } else {
            buf_puts(&b, "\xEF\xBF\xBD");
            p++;
        }
        chars++;
    }
    return buf_steal(&b);
}

static void iso(int64_t ms, char out[32])
{
    if (ms <= 0)
        out[0] = '\0';
    else
        iso8601_ms(ms, out);
}

/* ======================================================================================
 * Instances as SSM sees them
 * ====================================================================================== */

/* Is id a managed instance SSM can send to: running, with a live registered worker? */
static int instance_online(const char *id)
{
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT 1 FROM ec2_instances i JOIN ssm_agents a ON a.instance_id = i.id "
                                      "WHERE i.id = ? AND i.state = 'running' AND i.worker IN ('running', 'paused')");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int ok = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    return ok;
}

/* Running instances matching one SendCommand target, appended to ids. */
static int resolve_target(struct dss_call *call, const cJSON *target, cJSON *ids)
{
    const char *key = cJSON_GetStringValue(obj(target, "Key"));
    const cJSON *values = obj(target, "Values"), *v;
    if (!key || !cJSON_GetArraySize(values))
        return dss_fail(call, DSS_E_ValidationException, "Target must have a Key and at least one value.");
    if (!strcmp(key, "InstanceIds") || !strcmp(key, "instanceids")) {
        cJSON_ArrayForEach(v, values)
            if (cJSON_IsString(v))
                cJSON_AddItemToArray(ids, cJSON_CreateString(v->valuestring));
        return 0;
    }
    int tag_key = !strcmp(key, "tag-key");
    if (!tag_key && strncmp(key, "tag:", 4))
        return dss_fail(call, DSS_E_ValidationException, "Target key %s is not supported.", key);
    sqlite3_stmt *st = dss_stmt(call, "SELECT i.id, t.key, t.value FROM ec2_instances i JOIN ec2_tags t "
                                      "ON t.resource_id = i.id JOIN ssm_agents a ON a.instance_id = i.id "
                                      "WHERE i.state = 'running' ORDER BY i.seq");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = col(st, 0), *k = col(st, 1), *val = col(st, 2);
        int hit = 0;
        cJSON_ArrayForEach(v, values)
            if (cJSON_IsString(v) && (tag_key ? !strcmp(k, v->valuestring)
                                              : !strcmp(k, key + 4) && !strcmp(val, v->valuestring)))
                hit = 1;
        const cJSON *e;
        cJSON_ArrayForEach(e, ids)
            if (!strcmp(e->valuestring, id))
                hit = 0;
        if (hit)
            cJSON_AddItemToArray(ids, cJSON_CreateString(id));
    }
    sqlite3_reset(st);
    return 0;
}

/* ======================================================================================
 * SendCommand
 * ====================================================================================== */

static int string_list_param(const cJSON *params, const char *name, const char **out)
{
    const cJSON *v = obj(obj(params, "Parameters"), name);
    if (!v)
        return 1;
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != 1 || !cJSON_IsString(v->child))
        return -1;
    *out = v->child->valuestring;
    return 0;
}

/* SendCommand: DocumentName, InstanceIds | Targets, Parameters, TimeoutSeconds, Comment,
 * OutputS3BucketName, OutputS3KeyPrefix, MaxConcurrency, MaxErrors -> Command. */
static cJSON *command_json(sqlite3_stmt *st);

static int op_send_command(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *doc = dss_param_str(params, "DocumentName");
    const char *comment = dss_param_str(params, "Comment");
    const cJSON *ids_in = obj(params, "InstanceIds"), *targets = obj(params, "Targets"), *v;
    int64_t timeout = 3600;
    if (!doc)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at "
                        "'documentName' failed to satisfy constraint: Member must not be null");
    if (strcmp(doc, "AWS-RunShellScript") && strcmp(doc, "AWS-RunPowerShellScript"))
        return dss_fail(call, DSS_E_InvalidDocument, "Document with name %s does not exist.", doc);
    if (comment && strlen(comment) > COMMENT_MAX) /* bytes >= characters: check characters */ {
        char *t = truncate_chars(comment, COMMENT_MAX);
        int over = strlen(t) < strlen(comment);
        free(t);
        if (over)
            return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value '%.120s' at "
                            "'comment' failed to satisfy constraint: Member must have length less than or "
                            "equal to 100", comment);
    }
    int has_t = dss_param_int(params, "TimeoutSeconds", &timeout);
    if (has_t < 0 || timeout < 30 || timeout > 2592000)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value '%lld' at "
                        "'timeoutSeconds' failed to satisfy constraint: Member must have value greater than or "
                        "equal to 30", (long long)timeout);
    /* Parameters of AWS-RunShellScript / AWS-RunPowerShellScript. */
    const cJSON *p;
    cJSON_ArrayForEach(p, obj(params, "Parameters"))
        if (strcmp(p->string, "commands") && strcmp(p->string, "workingDirectory") &&
            strcmp(p->string, "executionTimeout"))
            return dss_fail(call, DSS_E_InvalidParameters, "Document %s does not support parameter %s.", doc,
                            p->string);
    const cJSON *cmds = obj(obj(params, "Parameters"), "commands");
    if (!cJSON_GetArraySize(cmds))
        return dss_fail(call, DSS_E_InvalidParameters, "Parameters [commands] are required but not specified.");
    cJSON_ArrayForEach(v, cmds)
        if (!cJSON_IsString(v))
            return dss_fail(call, DSS_E_InvalidParameters, "Parameter commands must be a list of strings.");
    const char *wd = NULL, *et = NULL;
    if (string_list_param(params, "workingDirectory", &wd) < 0)
        return dss_fail(call, DSS_E_InvalidParameters, "Parameter workingDirectory must be one string.");
    int64_t exec_timeout = 3600;
    if (string_list_param(params, "executionTimeout", &et) == 0) {
        char *end;
        exec_timeout = strtoll(et, &end, 10);
        if (!*et || *end || exec_timeout < 1 || exec_timeout > 172800)
            return dss_fail(call, DSS_E_InvalidParameters, "Parameter \"executionTimeout\" \"%s\" failed to "
                            "satisfy constraint: allowedPattern ([1-9][0-9]{0,4})|(1[0-6][0-9]{4})|(17[0-1][0-9]{3})"
                            "|(172[0-7][0-9]{2})|(172800)", et);
    } else if (obj(obj(params, "Parameters"), "executionTimeout")) {
        return dss_fail(call, DSS_E_InvalidParameters, "Parameter executionTimeout must be one string.");
    }
    if (!cJSON_GetArraySize(ids_in) && !cJSON_GetArraySize(targets))
        return dss_fail(call, DSS_E_ValidationException, "Either InstanceIds or Targets must be specified.");
    if (cJSON_GetArraySize(ids_in) && cJSON_GetArraySize(targets))
        return dss_fail(call, DSS_E_ValidationException, "InstanceIds and Targets cannot be used together.");
    cJSON *ids = cJSON_CreateArray();
    int rc = DSS_ERR;
    cJSON_ArrayForEach(v, ids_in) {
        if (!cJSON_IsString(v))
            continue;
        const cJSON *e;
        cJSON_ArrayForEach(e, ids)
            if (!strcmp(e->valuestring, v->valuestring)) {
                dss_fail(call, DSS_E_DuplicateInstanceId, "Instance Id %s is duplicated.", v->valuestring);
                goto out;
            }
        cJSON_AddItemToArray(ids, cJSON_CreateString(v->valuestring));
    }
    cJSON_ArrayForEach(v, targets)
        if (resolve_target(call, v, ids))
            goto out;
    cJSON_ArrayForEach(v, ids)
        if (!instance_online(v->valuestring)) {
            dss_fail(call, DSS_E_InvalidInstanceId, "Instances [[%s]] not in a valid state for account %s",
                     v->valuestring, EC2_ACCOUNT_ID);
            goto out;
        }
    char id[37];
    if (ec2_new_uuid("ssm-command", id)) {
        dss_fail(call, DSS_E_InternalServerError, "Internal error.");
        goto out;
    }
    int64_t now = dss_clock_now_ms();
    cJSON *pcopy = cJSON_Duplicate(obj(params, "Parameters"), 1);
    char *ptext = cJSON_PrintUnformatted(pcopy), *itext = cJSON_PrintUnformatted(ids_in ? ids_in : ids);
    char *ttext = targets ? cJSON_PrintUnformatted(targets) : strdup("[]");
    cJSON_Delete(pcopy);
    sqlite3_stmt *st = dss_stmt(call, "INSERT INTO ssm_commands(id, seq, document, params, comment, instance_ids, "
                                      "targets, requested_ms, timeout_s, exec_timeout_s, output_bucket, "
                                      "output_prefix, max_concurrency, max_errors) VALUES(?1, "
                                      "(SELECT COALESCE(MAX(seq), 0) + 1 FROM ssm_commands), ?2, ?3, ?4, ?5, ?6, "
                                      "?7, ?8, ?9, ?10, ?11, ?12, ?13)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, doc, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, ptext ? ptext : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, comment ? comment : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, itext ? itext : "[]", -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, ttext ? ttext : "[]", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, now);
    sqlite3_bind_int64(st, 8, timeout);
    sqlite3_bind_int64(st, 9, exec_timeout);
    const char *opt[] = {dss_param_str(params, "OutputS3BucketName"), dss_param_str(params, "OutputS3KeyPrefix"),
                         dss_param_str(params, "MaxConcurrency"), dss_param_str(params, "MaxErrors")};
    for (int i = 0; i < 4; i++)
        if (opt[i])
            sqlite3_bind_text(st, 10 + i, opt[i], -1, SQLITE_STATIC);
        else if (i >= 2)
            sqlite3_bind_text(st, 10 + i, i == 2 ? "50" : "0", -1, SQLITE_STATIC);
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    free(ptext);
    free(itext);
    free(ttext);
    int64_t seq = 0;
    cJSON_ArrayForEach(v, ids) {
        st = dss_stmt(call, "INSERT INTO ssm_invocations(command_id, instance_id, seq, status, details) "
                            "VALUES(?, ?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM ssm_invocations), 'Pending', "
                            "'Pending')");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, v->valuestring, -1, SQLITE_STATIC);
        ok = ok && sqlite3_step(st) == SQLITE_DONE;
        sqlite3_reset(st);
        char key[64];
        snprintf(key, sizeof key, "ssm:%s", v->valuestring);
        dss_wake(call, key);
        seq++;
    }
    if (!ok) {
        dss_fail(call, DSS_E_InternalServerError, "Internal error.");
        goto out;
    }
    st = dss_stmt(call, "SELECT * FROM ssm_commands WHERE id = ?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    cJSON *out = cJSON_CreateObject();
    if (sqlite3_step(st) == SQLITE_ROW)
        cJSON_AddItemToObject(out, "Command", command_json(st));
    sqlite3_reset(st);
    /* The delivery deadline (30 s at the least): the supervisor's own 100 ms round finds it on
     * the wall clock, so only the simulated clock's barrier needs telling at once -- a poke per
     * command would run the supervisor's write transaction once per job. */
    if (dss_clock_is_simulated())
        instances_poke();
    *result = out;
    rc = DSS_OK;
out:
    cJSON_Delete(ids);
    return rc;
}

/* ======================================================================================
 * Describing commands and invocations
 * ====================================================================================== */

/* Columns of SELECT * FROM ssm_commands. */
enum { K_ID, K_SEQ, K_DOC, K_PARAMS, K_COMMENT, K_IDS, K_TARGETS, K_REQ, K_TIMEOUT, K_EXEC, K_BUCKET, K_PREFIX,
       K_MAXC, K_MAXE, K_CANCELLED };

static cJSON *command_json(sqlite3_stmt *st)
{
    const char *id = col(st, K_ID);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "CommandId", id);
    cJSON_AddStringToObject(c, "DocumentName", col(st, K_DOC));
    cJSON_AddStringToObject(c, "DocumentVersion", "$DEFAULT");
    cJSON_AddStringToObject(c, "Comment", col(st, K_COMMENT));
    int64_t req = sqlite3_column_int64(st, K_REQ);
    int64_t expires_s = req / 1000 + sqlite3_column_int64(st, K_TIMEOUT) + sqlite3_column_int64(st, K_EXEC);
    cJSON_AddNumberToObject(c, "ExpiresAfter", (double)expires_s); /* whole seconds */
    cJSON *p = cJSON_Parse(col(st, K_PARAMS));
    cJSON_AddItemToObject(c, "Parameters", p ? p : cJSON_CreateObject());
    cJSON *ids = cJSON_Parse(col(st, K_IDS));
    cJSON_AddItemToObject(c, "InstanceIds", ids ? ids : cJSON_CreateArray());
    cJSON *t = cJSON_Parse(col(st, K_TARGETS));
    cJSON_AddItemToObject(c, "Targets", t ? t : cJSON_CreateArray());
    cJSON_AddNumberToObject(c, "RequestedDateTime", (double)req / 1000.0);
    /* Status from the invocations. */
    sqlite3_stmt *q = dss_stmt(NULL, "SELECT status, details FROM ssm_invocations WHERE command_id = ?");
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    int total = 0, pending = 0, active = 0, cancelling = 0, success = 0, failed = 0, timed_out = 0, cancelled = 0,
        delivery_to = 0, errors = 0;
    while (sqlite3_step(q) == SQLITE_ROW) {
        const char *s = col(q, 0), *d = col(q, 1);
        total++;
        if (!strcmp(s, "Pending")) pending++;
        else if (!strcmp(s, "InProgress")) active++;
        else if (!strcmp(s, "Cancelling")) cancelling++;
        else if (!strcmp(s, "Success")) success++;
        else if (!strcmp(s, "Failed")) failed++, errors++;
        else if (!strcmp(s, "TimedOut")) {
            timed_out++;
            if (!strcmp(d, "Delivery Timed Out"))
                delivery_to++;
            else
                errors++;
        } else if (!strcmp(s, "Cancelled")) cancelled++;
    }
    sqlite3_reset(q);
    const char *status = cancelling ? "Cancelling" : active ? "InProgress"
                       : pending ? (pending == total ? "Pending" : "InProgress")
                       : failed ? "Failed" : timed_out ? "TimedOut" : cancelled ? "Cancelled" : "Success";
    if (sqlite3_column_int(st, K_CANCELLED) && !pending && !active && !cancelling)
        status = "Cancelled";
    const char *details = !strcmp(status, "InProgress") ? "In Progress"
                        : !strcmp(status, "TimedOut") && delivery_to == timed_out ? "Delivery Timed Out"
                        : !strcmp(status, "TimedOut") ? "Execution Timed Out"
                        : !strcmp(status, "Cancelled") ? "Canceled" : status;
    cJSON_AddStringToObject(c, "Status", status);
    cJSON_AddStringToObject(c, "StatusDetails", details);
    cJSON_AddStringToObject(c, "OutputS3Region", "us-east-1");
    cJSON_AddStringToObject(c, "OutputS3BucketName", col(st, K_BUCKET));
    cJSON_AddStringToObject(c, "OutputS3KeyPrefix", col(st, K_PREFIX));
    cJSON_AddStringToObject(c, "MaxConcurrency", col(st, K_MAXC));
    cJSON_AddStringToObject(c, "MaxErrors", col(st, K_MAXE));
    cJSON_AddNumberToObject(c, "TargetCount", total);
    cJSON_AddNumberToObject(c, "CompletedCount", success + failed + timed_out + cancelled);
    cJSON_AddNumberToObject(c, "ErrorCount", errors);
    cJSON_AddNumberToObject(c, "DeliveryTimedOutCount", delivery_to);
    cJSON_AddStringToObject(c, "ServiceRole", "");
    cJSON *nc = cJSON_AddObjectToObject(c, "NotificationConfig");
    cJSON_AddStringToObject(nc, "NotificationArn", "");
    cJSON_AddItemToObject(nc, "NotificationEvents", cJSON_CreateArray());
    cJSON_AddStringToObject(nc, "NotificationType", "");
    cJSON *cw = cJSON_AddObjectToObject(c, "CloudWatchOutputConfig");
    cJSON_AddStringToObject(cw, "CloudWatchLogGroupName", "");
    cJSON_AddBoolToObject(cw, "CloudWatchOutputEnabled", 0);
    cJSON_AddNumberToObject(c, "TimeoutSeconds", (double)sqlite3_column_int64(st, K_TIMEOUT));
    return c;
}

static int valid_command_id(const char *id)
{
    return id && strlen(id) == 36;
}

static const char *plugin_name(const char *doc)
{
    return !strcmp(doc, "AWS-RunPowerShellScript") ? "aws:runPowerShellScript" : "aws:runShellScript";
}

/* Where the agent puts an invocation's output in OutputS3BucketName: the plugin's folder,
 * [OutputS3KeyPrefix/]COMMAND/INSTANCE/awsrunShellScript (the plugin's name without its ':'),
 * and in it the step's folder, 0.awsrunShellScript, which holds stdout and stderr. */
enum output_folder { PLUGIN_FOLDER, STEP_FOLDER };

static void output_folder(const char *prefix, const char *cid, const char *iid, const char *doc,
                          enum output_folder which, char *out, size_t n)
{
    char plugin[32];
    size_t j = 0;
    for (const char *p = plugin_name(doc); *p && j + 1 < sizeof plugin; p++)
        if (*p != ':')
            plugin[j++] = *p;
    plugin[j] = '\0';
    snprintf(out, n, "%s%s%s/%s/%s%s%s", prefix && *prefix ? prefix : "", prefix && *prefix ? "/" : "", cid, iid,
             plugin, which == STEP_FOLDER ? "/0." : "", which == STEP_FOLDER ? plugin : "");
}

#define INV_SELECT "SELECT v.command_id, v.instance_id, v.status, v.details, v.response_code, v.stdout, " \
                   "v.stderr, v.start_ms, v.end_ms, c.comment, c.document, c.requested_ms, v.seq, " \
                   "c.output_bucket, c.output_prefix " \
                   "FROM ssm_invocations v JOIN ssm_commands c ON c.id = v.command_id "
enum { I_CID, I_IID, I_STATUS, I_DETAILS, I_CODE, I_STDOUT, I_STDERR, I_START, I_END, I_COMMENT, I_DOC, I_REQ,
       I_SEQ, I_BUCKET, I_PREFIX };

/* The URL of an invocation's stdout or stderr in its output bucket, on the S3 of the endpoint
 * the client called (AWS answers with its regional S3 endpoint); "" unless the command named a
 * bucket and the invocation ran to its end, when the worker has uploaded it. */
static void output_url(struct dss_call *call, sqlite3_stmt *st, const char *stream, char *out, size_t n)
{
    const char *bucket = col(st, I_BUCKET);
    out[0] = '\0';
    if (!*bucket || !sqlite3_column_int64(st, I_START) || !sqlite3_column_int64(st, I_END))
        return;
    char step[1300];
    output_folder(col(st, I_PREFIX), col(st, I_CID), col(st, I_IID), col(st, I_DOC), STEP_FOLDER, step, sizeof step);
    snprintf(out, n, "http://%s/%s/%s/%s", dss_call_host(call), bucket, step, stream);
}

/* GetCommandInvocation: CommandId, InstanceId, PluginName. */
static int op_get_command_invocation(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *cid = dss_param_str(params, "CommandId"), *iid = dss_param_str(params, "InstanceId");
    const char *plugin = dss_param_str(params, "PluginName");
    if (!cid || !iid)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at '%s' failed "
                        "to satisfy constraint: Member must not be null", cid ? "instanceId" : "commandId");
    if (!valid_command_id(cid))
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value '%s' at 'commandId' "
                        "failed to satisfy constraint: Member must have length less than or equal to 36", cid);
    sqlite3_stmt *st = dss_stmt(call, INV_SELECT "WHERE v.command_id = ? AND v.instance_id = ?");
    sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, iid, -1, SQLITE_STATIC);
    if (sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_reset(st);
        return dss_fail(call, DSS_E_InvocationDoesNotExist,
                        "An error occurred (InvocationDoesNotExist) when calling the GetCommandInvocation operation");
    }
    if (plugin && strcmp(plugin, plugin_name(col(st, 10)))) {
        sqlite3_reset(st);
        return dss_fail(call, DSS_E_InvalidParameters, "Plugin %s does not exist in the document.", plugin);
    }
    cJSON *o = cJSON_CreateObject();
    char start[32], end[32], elapsed[48] = "";
    int64_t s_ms = sqlite3_column_int64(st, 7), e_ms = sqlite3_column_int64(st, 8);
    iso(s_ms, start);
    iso(e_ms, end);
    if (s_ms && e_ms)
        snprintf(elapsed, sizeof elapsed, "PT%.3fS", (double)(e_ms - s_ms) / 1000.0);
    cJSON_AddStringToObject(o, "CommandId", col(st, 0));
    cJSON_AddStringToObject(o, "InstanceId", col(st, 1));
    cJSON_AddStringToObject(o, "Comment", col(st, 9));
    cJSON_AddStringToObject(o, "DocumentName", col(st, 10));
    cJSON_AddStringToObject(o, "DocumentVersion", "$DEFAULT");
    cJSON_AddStringToObject(o, "PluginName", plugin_name(col(st, 10)));
    cJSON_AddNumberToObject(o, "ResponseCode", sqlite3_column_int(st, 4));
    cJSON_AddStringToObject(o, "ExecutionStartDateTime", start);
    cJSON_AddStringToObject(o, "ExecutionElapsedTime", elapsed);
    cJSON_AddStringToObject(o, "ExecutionEndDateTime", end);
    cJSON_AddStringToObject(o, "Status", col(st, 2));
    cJSON_AddStringToObject(o, "StatusDetails", col(st, 3));
    char *out = truncate_chars(col(st, 5), OUTPUT_MAX), *err = truncate_chars(col(st, 6), ERROR_MAX);
    char out_url[2048], err_url[2048];
    output_url(call, st, "stdout", out_url, sizeof out_url);
    output_url(call, st, "stderr", err_url, sizeof err_url);
    cJSON_AddStringToObject(o, "StandardOutputContent", out);
    cJSON_AddStringToObject(o, "StandardOutputUrl", out_url);
    cJSON_AddStringToObject(o, "StandardErrorContent", err);
    cJSON_AddStringToObject(o, "StandardErrorUrl", err_url);
    free(out);
    free(err);
    cJSON *cw = cJSON_AddObjectToObject(o, "CloudWatchOutputConfig");
    cJSON_AddStringToObject(cw, "CloudWatchLogGroupName", "");
    cJSON_AddBoolToObject(cw, "CloudWatchOutputEnabled", 0);
    sqlite3_reset(st);
    *result = o;
    return DSS_OK;
}

static int page_params(struct dss_call *call, const cJSON *params, int64_t dflt, int64_t *max, int64_t *after)
{
    *max = dflt;
    *after = 0;
    int r = dss_param_int(params, "MaxResults", max);
    if (r < 0 || (r == 0 && (*max < 1 || *max > 50)))
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value at 'maxResults' "
                        "failed to satisfy constraint: Member must have value less than or equal to 50");
    const char *tok = dss_param_str(params, "NextToken");
    if (tok) {
        char *end;
        *after = strtoll(tok, &end, 10);
        if (!*tok || *end || *after < 0)
            return dss_fail(call, DSS_E_InvalidNextToken, "The specified token is not valid.");
    }
    return 0;
}

/* ListCommands: CommandId, InstanceId, MaxResults, NextToken, Filters -> Commands. */
static int op_list_commands(struct dss_call *call, const cJSON *params, cJSON **result)
{
    int64_t max, after;
    if (page_params(call, params, 50, &max, &after))
        return DSS_ERR;
    const char *cid = dss_param_str(params, "CommandId"), *iid = dss_param_str(params, "InstanceId");
    if (cid && !valid_command_id(cid))
        return dss_fail(call, DSS_E_InvalidCommandId, "Invalid command id %s", cid);
    const cJSON *f;
    const char *status_filter = NULL, *doc_filter = NULL;
    cJSON_ArrayForEach(f, obj(params, "Filters")) {
        const char *k = cJSON_GetStringValue(obj(f, "key")), *v = cJSON_GetStringValue(obj(f, "value"));
        if (k && !strcmp(k, "Status"))
            status_filter = v;
        else if (k && !strcmp(k, "DocumentName"))
            doc_filter = v;
    }
    sqlite3_stmt *st = dss_stmt(call, "SELECT * FROM ssm_commands WHERE (?1 = 0 OR seq < ?1) AND (?2 IS NULL OR "
                                      "id = ?2) AND (?3 IS NULL OR id IN (SELECT command_id FROM ssm_invocations "
                                      "WHERE instance_id = ?3)) AND (?4 IS NULL OR document = ?4) ORDER BY seq DESC");
    sqlite3_bind_int64(st, 1, after);
    if (cid)
        sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
    if (iid)
        sqlite3_bind_text(st, 3, iid, -1, SQLITE_STATIC);
    if (doc_filter)
        sqlite3_bind_text(st, 4, doc_filter, -1, SQLITE_STATIC);
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "Commands");
    /* Newest first; the token is the sequence to stay below. */
    cJSON *all = cJSON_CreateArray();
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *c = command_json(st);
        cJSON_AddNumberToObject(c, "_seq", (double)sqlite3_column_int64(st, K_SEQ));
        const char *s = cJSON_GetStringValue(obj(c, "Status"));
        if (status_filter && strcmp(s, status_filter))
            cJSON_Delete(c);
        else
            cJSON_AddItemToArray(all, c);
    }
    sqlite3_reset(st);
    if (cid && cJSON_GetArraySize(all) == 0 && !after) {
        cJSON_Delete(all);
        cJSON_Delete(out);
        return dss_fail(call, DSS_E_InvalidCommandId, "Invalid command id %s", cid);
    }
    int n = 0;
    int64_t last_seq = 0;
    cJSON *c;
    while ((c = cJSON_DetachItemFromArray(all, 0))) {
        if (n == max) { /* more below: the next page starts under the last one listed */
            char tok[32];
            snprintf(tok, sizeof tok, "%lld", (long long)last_seq);
            cJSON_AddStringToObject(out, "NextToken", tok);
            cJSON_Delete(c);
            break;
        }
        last_seq = (int64_t)cJSON_GetNumberValue(obj(c, "_seq"));
        cJSON_DeleteItemFromObject(c, "_seq");
        cJSON_AddItemToArray(list, c);
        n++;
    }
    cJSON_Delete(all);
    *result = out;
    return DSS_OK;
}

/* ListCommandInvocations: CommandId, InstanceId, MaxResults, NextToken, Filters, Details. */
static int op_list_command_invocations(struct dss_call *call, const cJSON *params, cJSON **result)
{
    int64_t max, after;
    if (page_params(call, params, 50, &max, &after))
        return DSS_ERR;
    const char *cid = dss_param_str(params, "CommandId"), *iid = dss_param_str(params, "InstanceId");
    int details = cJSON_IsTrue(obj(params, "Details"));
    if (cid && !valid_command_id(cid))
        return dss_fail(call, DSS_E_InvalidCommandId, "Invalid command id %s", cid);
    sqlite3_stmt *st = dss_stmt(call, INV_SELECT "WHERE v.seq > ?1 AND (?2 IS NULL OR v.command_id = ?2) "
                                      "AND (?3 IS NULL OR v.instance_id = ?3) ORDER BY v.seq");
    sqlite3_bind_int64(st, 1, after);
    if (cid)
        sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
    if (iid)
        sqlite3_bind_text(st, 3, iid, -1, SQLITE_STATIC);
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "CommandInvocations");
    int n = 0;
    int64_t last_seq = after;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == max) { /* the token is the last sequence listed: seqs are global, so with a
                         * CommandId or InstanceId filter they are not consecutive */
            char tok[32];
            snprintf(tok, sizeof tok, "%lld", (long long)last_seq);
            cJSON_AddStringToObject(out, "NextToken", tok);
            break;
        }
        last_seq = sqlite3_column_int64(st, 12);
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "CommandId", col(st, 0));
        cJSON_AddStringToObject(o, "InstanceId", col(st, 1));
        cJSON_AddStringToObject(o, "InstanceName", "");
        cJSON_AddStringToObject(o, "Comment", col(st, 9));
        cJSON_AddStringToObject(o, "DocumentName", col(st, 10));
        cJSON_AddStringToObject(o, "DocumentVersion", "$DEFAULT");
        cJSON_AddNumberToObject(o, "RequestedDateTime", (double)sqlite3_column_int64(st, 11) / 1000.0);
        cJSON_AddStringToObject(o, "Status", col(st, 2));
        cJSON_AddStringToObject(o, "StatusDetails", col(st, 3));
        char out_url[2048], err_url[2048];
        output_url(call, st, "stdout", out_url, sizeof out_url);
        output_url(call, st, "stderr", err_url, sizeof err_url);
        cJSON_AddStringToObject(o, "TraceOutput", "");
        cJSON_AddStringToObject(o, "StandardOutputUrl", out_url);
        cJSON_AddStringToObject(o, "StandardErrorUrl", err_url);
        cJSON *plugins = cJSON_AddArrayToObject(o, "CommandPlugins");
        if (details) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "Name", plugin_name(col(st, 10)));
            cJSON_AddStringToObject(p, "Status", col(st, 2));
            cJSON_AddStringToObject(p, "StatusDetails", col(st, 3));
            cJSON_AddNumberToObject(p, "ResponseCode", sqlite3_column_int(st, 4));
            if (sqlite3_column_int64(st, 7))
                cJSON_AddNumberToObject(p, "ResponseStartDateTime", (double)sqlite3_column_int64(st, 7) / 1000.0);
            if (sqlite3_column_int64(st, 8))
                cJSON_AddNumberToObject(p, "ResponseFinishDateTime", (double)sqlite3_column_int64(st, 8) / 1000.0);
            struct buf both;
            buf_init(&both, SIZE_MAX);
            buf_puts(&both, col(st, 5));
            if (sqlite3_column_bytes(st, 6)) {
                buf_puts(&both, "\n----------ERROR-------\n");
                buf_puts(&both, col(st, 6));
            }
            char *text = truncate_chars(both.data ? both.data : "", DETAIL_OUTPUT_MAX);
            buf_free(&both);
            cJSON_AddStringToObject(p, "Output", text);
            free(text);
            char prefix[1300] = ""; /* the plugin's own folder, as AWS shows it */
            if (*col(st, I_BUCKET))
                output_folder(col(st, I_PREFIX), col(st, I_CID), col(st, I_IID), col(st, I_DOC), PLUGIN_FOLDER,
                              prefix, sizeof prefix);
            cJSON_AddStringToObject(p, "StandardOutputUrl", out_url);
            cJSON_AddStringToObject(p, "StandardErrorUrl", err_url);
            cJSON_AddStringToObject(p, "OutputS3Region", "us-east-1");
            cJSON_AddStringToObject(p, "OutputS3BucketName", col(st, I_BUCKET));
            cJSON_AddStringToObject(p, "OutputS3KeyPrefix", prefix);
            cJSON_AddItemToArray(plugins, p);
        }
        cJSON_AddStringToObject(o, "ServiceRole", "");
        cJSON_AddItemToArray(list, o);
        n++;
    }
    sqlite3_reset(st);
    *result = out;
    return DSS_OK;
}

/* CancelCommand: CommandId, InstanceIds. */
static int op_cancel_command(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *cid = dss_param_str(params, "CommandId");
    const cJSON *ids = obj(params, "InstanceIds");
    if (!cid)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at 'commandId' "
                        "failed to satisfy constraint: Member must not be null");
    sqlite3_stmt *st = dss_stmt(call, "SELECT 1 FROM ssm_commands WHERE id = ?");
    sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
    int found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_reset(st);
    if (!found)
        return dss_fail(call, DSS_E_InvalidCommandId, "Invalid command id %s", cid);
    int64_t now = dss_clock_now_ms();
    st = dss_stmt(call, "SELECT instance_id, status FROM ssm_invocations WHERE command_id = ?");
    sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
    cJSON *todo = cJSON_CreateArray();
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *iid = col(st, 0);
        if (cJSON_GetArraySize(ids)) {
            int listed = 0;
            const cJSON *v;
            cJSON_ArrayForEach(v, ids)
                listed |= cJSON_IsString(v) && !strcmp(v->valuestring, iid);
            if (!listed)
                continue;
        }
        if (!terminal(col(st, 1)))
            cJSON_AddItemToArray(todo, cJSON_CreateString(iid));
    }
    sqlite3_reset(st);
    const cJSON *v;
    cJSON_ArrayForEach(v, todo) {
        st = dss_stmt(call, "UPDATE ssm_invocations SET status = CASE status WHEN 'Pending' THEN 'Cancelled' "
                            "ELSE 'Cancelling' END, details = CASE status WHEN 'Pending' THEN 'Canceled' "
                            "ELSE 'Cancelling' END, end_ms = CASE status WHEN 'Pending' THEN ?1 ELSE end_ms END "
                            "WHERE command_id = ?2 AND instance_id = ?3");
        sqlite3_bind_int64(st, 1, now);
        sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 3, v->valuestring, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
        char key[64];
        snprintf(key, sizeof key, "ssm:%s", v->valuestring);
        dss_wake(call, key);
    }
    cJSON_Delete(todo);
    if (!cJSON_GetArraySize(ids)) {
        st = dss_stmt(call, "UPDATE ssm_commands SET cancelled = 1 WHERE id = ?");
        sqlite3_bind_text(st, 1, cid, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    *result = cJSON_CreateObject();
    return DSS_OK;
}

/* DescribeInstanceInformation: Filters / InstanceInformationFilterList (InstanceIds,
 * PingStatus), MaxResults, NextToken -> InstanceInformationList. */
static int op_describe_instance_information(struct dss_call *call, const cJSON *params, cJSON **result)
{
    int64_t max = 50, after = 0;
    int r = dss_param_int(params, "MaxResults", &max);
    if (r < 0 || (r == 0 && (max < 5 || max > 50)))
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value at 'maxResults' "
                        "failed to satisfy constraint: Member must have value between 5 and 50");
    const char *tok = dss_param_str(params, "NextToken");
    if (tok) {
        char *end;
        after = strtoll(tok, &end, 10);
        if (!*tok || *end)
            return dss_fail(call, DSS_E_InvalidNextToken, "The specified token is not valid.");
    }
    const cJSON *want_ids = NULL, *want_ping = NULL, *f;
    cJSON_ArrayForEach(f, obj(params, "Filters")) {
        const char *k = cJSON_GetStringValue(obj(f, "Key"));
        if (k && !strcmp(k, "InstanceIds")) want_ids = obj(f, "Values");
        else if (k && !strcmp(k, "PingStatus")) want_ping = obj(f, "Values");
    }
    cJSON_ArrayForEach(f, obj(params, "InstanceInformationFilterList")) {
        const char *k = cJSON_GetStringValue(obj(f, "key"));
        if (k && !strcmp(k, "InstanceIds")) want_ids = obj(f, "valueSet");
        else if (k && !strcmp(k, "PingStatus")) want_ping = obj(f, "valueSet");
    }
    sqlite3_stmt *st = dss_stmt(call, "SELECT i.id, i.state, i.worker, i.ping_ms, i.private_ip, a.agent_version, "
                                      "i.seq FROM ec2_instances i JOIN ssm_agents a ON a.instance_id = i.id "
                                      "WHERE i.state != 'terminated' AND i.seq > ? ORDER BY i.seq");
    sqlite3_bind_int64(st, 1, after);
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "InstanceInformationList");
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *id = col(st, 0);
        int online = !strcmp(col(st, 1), "running") && !strcmp(col(st, 2), "running");
        const char *ping = online ? "Online" : "ConnectionLost";
        int keep = 1;
        const cJSON *v;
        if (want_ids) {
            keep = 0;
            cJSON_ArrayForEach(v, want_ids) keep |= cJSON_IsString(v) && !strcmp(v->valuestring, id);
        }
        if (want_ping && keep) {
            keep = 0;
            cJSON_ArrayForEach(v, want_ping) keep |= cJSON_IsString(v) && !strcmp(v->valuestring, ping);
        }
        if (!keep)
            continue;
        if (n == max) {
            char next[32];
            snprintf(next, sizeof next, "%lld", (long long)sqlite3_column_int64(st, 6) - 1);
            cJSON_AddStringToObject(out, "NextToken", next);
            break;
        }
        char host[64];
        snprintf(host, sizeof host, "ip-%s.ec2.internal", col(st, 4));
        for (char *p = host + 3; *p && strncmp(p, ".ec2", 4); p++)
            if (*p == '.')
                *p = '-';
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "InstanceId", id);
        cJSON_AddStringToObject(o, "PingStatus", ping);
        cJSON_AddNumberToObject(o, "LastPingDateTime", (double)sqlite3_column_int64(st, 3) / 1000.0);
        cJSON_AddStringToObject(o, "AgentVersion", col(st, 5));
        cJSON_AddBoolToObject(o, "IsLatestVersion", 1);
        cJSON_AddStringToObject(o, "PlatformType", "Linux");
        cJSON_AddStringToObject(o, "PlatformName", "Amazon Linux");
        cJSON_AddStringToObject(o, "PlatformVersion", "2023");
        cJSON_AddStringToObject(o, "ResourceType", "EC2Instance");
        cJSON_AddStringToObject(o, "IPAddress", col(st, 4));
        cJSON_AddStringToObject(o, "ComputerName", host);
        cJSON_AddItemToArray(list, o);
        n++;
    }
    sqlite3_reset(st);
    *result = out;
    return DSS_OK;
}

/* UpdateInstanceInformation: InstanceId, AgentVersion, PlatformType -- the agent registers. */
static int op_update_instance_information(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *id = dss_param_str(params, "InstanceId");
    const char *ver = dss_param_str(params, "AgentVersion");
    char state[32];
    if (!id || ec2_instance_state(id, state, sizeof state) || strcmp(state, EC2_RUNNING))
        return dss_fail(call, DSS_E_InvalidInstanceId, "Instance %s is not a running instance.", id ? id : "");
    int64_t now = dss_clock_now_ms();
    sqlite3_stmt *st = dss_stmt(call, "INSERT INTO ssm_agents(instance_id, agent_version, platform, registered_ms) "
                                      "VALUES(?1, ?2, 'Linux', ?3) ON CONFLICT(instance_id) DO UPDATE SET "
                                      "agent_version = excluded.agent_version");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, ver ? ver : "3.3.0.0", -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, now);
    sqlite3_step(st);
    sqlite3_reset(st);
    st = dss_stmt(call, "UPDATE ec2_instances SET ping_ms = ? WHERE id = ?");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    *result = cJSON_CreateObject();
    return DSS_OK;
}

/* ======================================================================================
 * The agent side (what dss-worker calls)
 * ====================================================================================== */

/* GetMessages: Destination (instance id), Busy (the worker runs a command already) ->
 * Messages [{MessageId, Payload}] -- a cancel for the running command, or the next command;
 * parks up to 20 s wall time when there is nothing. Shutdown: true tells a worker whose
 * instance is no longer running to exit. */
static int op_get_messages(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *id = dss_param_str(params, "Destination");
    int busy = cJSON_IsTrue(obj(params, "Busy"));
    char state[32];
    cJSON *out = cJSON_CreateObject();
    cJSON *msgs = cJSON_AddArrayToObject(out, "Messages");
    cJSON_AddStringToObject(out, "MessagesRequestId", dss_call_request_id(call));
    if (!id || ec2_instance_state(id, state, sizeof state) || strcmp(state, EC2_RUNNING)) {
        cJSON_AddBoolToObject(out, "Shutdown", 1);
        *result = out;
        return DSS_OK;
    }
    cJSON_AddStringToObject(out, "Destination", id);
    int64_t now = dss_clock_now_ms();
    sqlite3_stmt *st = dss_stmt(call, "UPDATE ec2_instances SET ping_ms = ? WHERE id = ?");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    /* A cancel for what runs. */
    st = dss_stmt(call, "SELECT command_id FROM ssm_invocations WHERE instance_id = ?1 AND status = 'Cancelling' "
                        "AND cancel_sent = 0 AND worker_pid = (SELECT worker_pid FROM ec2_instances WHERE id = ?1)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW) {
        cJSON *m = cJSON_CreateObject();
        cJSON_AddStringToObject(m, "MessageId", col(st, 0));
        cJSON *p = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "Type", "cancel");
        cJSON_AddStringToObject(p, "CommandId", col(st, 0));
        char *text = cJSON_PrintUnformatted(p);
        cJSON_Delete(p);
        cJSON_AddStringToObject(m, "Payload", text ? text : "{}");
        free(text);
        cJSON_AddItemToArray(msgs, m);
    }
    sqlite3_reset(st);
    if (cJSON_GetArraySize(msgs)) {
        st = dss_stmt(call, "UPDATE ssm_invocations SET cancel_sent = 1 WHERE instance_id = ? AND status = 'Cancelling'");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    /* The next command, unless one runs. */
    /* One command at a time -- of this worker: one a dead worker of the instance had keeps its
     * status (the dead-agent setting) but does not block a fresh worker. */
    st = dss_stmt(call, "SELECT COUNT(*) FROM ssm_invocations WHERE instance_id = ?1 AND status IN ('InProgress', "
                        "'Cancelling') AND worker_pid = (SELECT worker_pid FROM ec2_instances WHERE id = ?1)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int running = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) > 0;
    sqlite3_reset(st);
    (void)busy; /* the table knows better: a worker's poll may have started before its command ended */
    if (!running) {
        st = dss_stmt(call, "SELECT c.id, c.document, c.params, c.exec_timeout_s, c.output_bucket, c.output_prefix "
                            "FROM ssm_invocations v JOIN "
                            "ssm_commands c ON c.id = v.command_id WHERE v.instance_id = ? AND v.status = 'Pending' "
                            "ORDER BY v.seq LIMIT 1");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        char cid[40] = "";
        if (sqlite3_step(st) == SQLITE_ROW) {
            snprintf(cid, sizeof cid, "%s", col(st, 0));
            cJSON *p = cJSON_CreateObject();
            cJSON_AddStringToObject(p, "Type", "command");
            cJSON_AddStringToObject(p, "CommandId", cid);
            cJSON_AddStringToObject(p, "DocumentName", col(st, 1));
            cJSON *prm = cJSON_Parse(col(st, 2));
            cJSON_AddItemToObject(p, "Commands", cJSON_DetachItemFromObject(prm, "commands"));
            const cJSON *wd = obj(prm, "workingDirectory");
            if (cJSON_IsArray(wd) && cJSON_IsString(wd->child))
                cJSON_AddStringToObject(p, "WorkingDirectory", wd->child->valuestring);
            cJSON_Delete(prm);
            cJSON_AddNumberToObject(p, "ExecutionTimeout", (double)sqlite3_column_int64(st, 3));
            if (*col(st, 4)) { /* the worker uploads stdout and stderr into the step's folder */
                char step[1300];
                output_folder(col(st, 5), cid, id, col(st, 1), STEP_FOLDER, step, sizeof step);
                cJSON_AddStringToObject(p, "OutputS3BucketName", col(st, 4));
                cJSON_AddStringToObject(p, "OutputS3StepPrefix", step);
            }
            char *text = cJSON_PrintUnformatted(p);
            cJSON_Delete(p);
            cJSON *m = cJSON_CreateObject();
            cJSON_AddStringToObject(m, "MessageId", cid);
            cJSON_AddStringToObject(m, "Payload", text ? text : "{}");
            free(text);
            cJSON_AddItemToArray(msgs, m);
        }
        sqlite3_reset(st);
        if (cid[0]) {
            st = dss_stmt(call, "UPDATE ssm_invocations SET status = 'InProgress', details = 'InProgress', "
                                "start_ms = ?1, worker_pid = (SELECT worker_pid FROM ec2_instances WHERE id = ?3) "
                                "WHERE command_id = ?2 AND instance_id = ?3");
            sqlite3_bind_int64(st, 1, now);
            sqlite3_bind_text(st, 2, cid, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 3, id, -1, SQLITE_STATIC);
            sqlite3_step(st);
            sqlite3_reset(st);
        }
    }
    if (!cJSON_GetArraySize(msgs)) {
        char key[64];
        snprintf(key, sizeof key, "ssm:%s", id);
        int64_t wait = (int64_t)(POLL_WALL_MS * dss_clock_speed());
        if (dss_wait(call, key, dss_call_first_ms(call) + wait) == DSS_WAIT) {
            cJSON_Delete(out);
            return DSS_WAIT;
        }
    }
    *result = out;
    return DSS_OK;
}

/* AcknowledgeMessage: MessageId (command id), Destination, ProcessGroup -- the worker started
 * the command in that process group (pause/resume faults signal it too). */
static int op_acknowledge_message(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *id = dss_param_str(params, "Destination");
    int64_t pgid = 0;
    if (id && dss_param_int(params, "ProcessGroup", &pgid) == 0) {
        sqlite3_stmt *st = dss_stmt(call, "UPDATE ec2_instances SET cmd_pgid = ? WHERE id = ?");
        if (pgid > 1)
            sqlite3_bind_int64(st, 1, pgid);
        sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    *result = cJSON_CreateObject();
    return DSS_OK;
}

/* SendReply: MessageId (command id), Destination, Payload {Status, ResponseCode, Stdout,
 * Stderr} -- a command ended on the instance. */
static int op_send_reply(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *cid = dss_param_str(params, "MessageId"), *id = dss_param_str(params, "Destination");
    cJSON *p = cJSON_Parse(dss_param_str(params, "Payload") ? dss_param_str(params, "Payload") : "");
    const char *status = cJSON_GetStringValue(obj(p, "Status"));
    if (!cid || !id || !status) {
        cJSON_Delete(p);
        return dss_fail(call, DSS_E_ValidationException, "MessageId, Destination and Payload.Status are required.");
    }
    const char *details = !strcmp(status, "Success") ? "Success" : !strcmp(status, "TimedOut") ? "Execution Timed Out"
                        : !strcmp(status, "Cancelled") ? "Canceled" : "Failed";
    if (strcmp(status, "Success") && strcmp(status, "TimedOut") && strcmp(status, "Cancelled"))
        status = "Failed";
    const char *so = cJSON_GetStringValue(obj(p, "Stdout")), *se = cJSON_GetStringValue(obj(p, "Stderr"));
    char *o = truncate_chars(so ? so : "", OUTPUT_MAX), *e = truncate_chars(se ? se : "", ERROR_MAX);
    int64_t code = -1;
    dss_param_int(p, "ResponseCode", &code);
    sqlite3_stmt *st = dss_stmt(call, "UPDATE ssm_invocations SET status = ?1, details = ?2, response_code = ?3, "
                                      "stdout = ?4, stderr = ?5, end_ms = ?6 WHERE command_id = ?7 AND "
                                      "instance_id = ?8 AND status IN ('InProgress', 'Cancelling')");
    sqlite3_bind_text(st, 1, status, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, details, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, code);
    sqlite3_bind_text(st, 4, o, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, e, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 6, dss_clock_now_ms());
    sqlite3_bind_text(st, 7, cid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 8, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    st = dss_stmt(call, "UPDATE ec2_instances SET cmd_pgid = NULL WHERE id = ?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    free(o);
    free(e);
    cJSON_Delete(p);
    char key[64];
    snprintf(key, sizeof key, "ssm:%s", id); /* a queued command may go now */
    dss_wake(call, key);
    *result = cJSON_CreateObject();
    cJSON_AddStringToObject(*result, "MessageId", cid);
    return DSS_OK;
}

/* ======================================================================================
 * Timers (run by the instance supervisor) and dead agents
 * ====================================================================================== */

/* Runs one of the timers' UPDATEs (static text: dss_stmt keeps it prepared) at time now. */
static void settle(const char *sql, int64_t now)
{
    sqlite3_stmt *st = dss_stmt(NULL, sql);
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_step(st);
    sqlite3_reset(st);
}

/* The earliest deadline of a live invocation (0: none): Pending ones time out after timeout_s,
 * InProgress and Cancelling ones after both timeouts. */
static int64_t next_deadline(void)
{
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT MIN(c.requested_ms + CASE v.status WHEN 'Pending' THEN c.timeout_s "
                                      "ELSE c.timeout_s + c.exec_timeout_s END * 1000) FROM ssm_invocations v JOIN "
                                      "ssm_commands c INDEXED BY ssm_commands_deadline ON c.id = v.command_id WHERE v.status IN ('Pending', "
                                      "'InProgress', 'Cancelling')");
    int64_t next = 0;
    if (st && sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        next = sqlite3_column_int64(st, 0);
    if (st)
        sqlite3_reset(st);
    return next;
}

/* next_deadline() reads every live invocation and its command: while neither table has changed
 * (db.h's change counts) its answer stands. Only the instance supervisor's thread ticks. */
static int64_t next_deadline_cached(void)
{
    static const char *const reads[] = {"ssm_invocations", "ssm_commands", NULL};
    static struct dss_db_tables tables = {.names = reads};
    static int valid;
    static unsigned long key;
    static int64_t next;
    unsigned long changes = dss_db_tables_changes(&tables);
    if (!valid || changes != key) {
        next = next_deadline();
        key = changes, valid = 1;
    }
    return next;
}

int64_t ssm_tick(int64_t now)
{
    /* Both settlements below need a deadline that has passed, so while none has they would
     * change nothing: skip them (this runs at every turn of the simulated clock's barrier). */
    int64_t next = next_deadline_cached();
    if (!next || next > now)
        return next;
    /* Never delivered within TimeoutSeconds. */
    settle("UPDATE ssm_invocations SET status = 'TimedOut', details = 'Delivery Timed Out', end_ms = ?1 WHERE "
           "status = 'Pending' AND (SELECT c.requested_ms + c.timeout_s * 1000 FROM ssm_commands c WHERE c.id = "
           "command_id) <= ?1", now);
    /* In progress on an instance whose agent is gone, past both timeouts. */
    settle("UPDATE ssm_invocations SET status = 'TimedOut', details = 'Delivery Timed Out', end_ms = ?1 WHERE "
           "status IN ('InProgress', 'Cancelling') AND (SELECT c.requested_ms + (c.timeout_s + c.exec_timeout_s) * "
           "1000 FROM ssm_commands c WHERE c.id = command_id) <= ?1 AND NOT EXISTS (SELECT 1 FROM ec2_instances i "
           "WHERE i.id = instance_id AND i.state = 'running' AND i.worker IN ('running', 'paused') AND "
           "i.worker_pid = ssm_invocations.worker_pid)", now);
    return next_deadline_cached();
}

/* DSS_SSM_DEAD_AGENT, read once: by ssm_start, or before it by the instance supervisor's first
 * round (EC2 starts before SSM), which settles what a restart left in progress -- read later,
 * that round used the default and the setting missed the restart. */
static pthread_once_t dead_agent_env_once = PTHREAD_ONCE_INIT;

static void dead_agent_from_env(void)
{
    const char *mode = getenv("DSS_SSM_DEAD_AGENT");
    for (int i = 0; mode && ssm_dead_agent_names[i]; i++)
        if (!strcmp(mode, ssm_dead_agent_names[i]))
            ssm_dead_agent_mode = i;
}

void ssm_instance_gone(const char *id, int64_t now)
{
    pthread_once(&dead_agent_env_once, dead_agent_from_env);
    /* The invocations lose their worker: an invocation is tied to the worker that took it by
     * pid, and a fresh worker of the instance may be given the same pid (after a restart, or
     * once pids wrap) -- it would then count as running the dead worker's command, which would
     * never time out and would hold back every later command on the instance. */
    sqlite3_stmt *st = dss_stmt(NULL, "UPDATE ssm_invocations SET worker_pid = NULL WHERE instance_id = ? AND "
                                      "status IN ('InProgress', 'Cancelling')");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    if (ssm_dead_agent_mode == DEAD_TIMEOUT)
        return;
    if (ssm_dead_agent_mode == DEAD_MISSING) {
        st = dss_stmt(NULL, "DELETE FROM ssm_invocations WHERE instance_id = ? AND status IN "
                            "('Pending', 'InProgress', 'Cancelling')");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
        return;
    }
    st = dss_stmt(NULL, "UPDATE ssm_invocations SET status = 'Failed', details = CASE status WHEN 'Pending' THEN "
                        "'Undeliverable' ELSE 'Terminated' END, end_ms = ?1 WHERE instance_id = ?2 AND status IN "
                        "('Pending', 'InProgress', 'Cancelling')");
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, id, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
}

static int ssm_start(void)
{
    pthread_once(&dead_agent_env_once, dead_agent_from_env);
    return 0;
}

static const struct dss_operation ssm_ops[] = {
    {"SendCommand", op_send_command, DSS_OP_WRITE},
    {"GetCommandInvocation", op_get_command_invocation, DSS_OP_READONLY},
    {"ListCommands", op_list_commands, DSS_OP_READONLY},
    {"ListCommandInvocations", op_list_command_invocations, DSS_OP_READONLY},
    {"CancelCommand", op_cancel_command, DSS_OP_WRITE},
    {"DescribeInstanceInformation", op_describe_instance_information, DSS_OP_READONLY},
    {"UpdateInstanceInformation", op_update_instance_information, DSS_OP_WRITE},
    /* Parameter Store: parameters.c */
    {"PutParameter", ssm_op_put_parameter, DSS_OP_WRITE},
    {"GetParameter", ssm_op_get_parameter, DSS_OP_READONLY},
    {"GetParameters", ssm_op_get_parameters, DSS_OP_READONLY},
    {"GetParametersByPath", ssm_op_get_parameters_by_path, DSS_OP_READONLY},
    {"DeleteParameter", ssm_op_delete_parameter, DSS_OP_WRITE},
    {"DeleteParameters", ssm_op_delete_parameters, DSS_OP_WRITE},
    {"DescribeParameters", ssm_op_describe_parameters, DSS_OP_READONLY},
    {NULL, NULL, 0},
};

const struct dss_service dss_ssm_service = {
    .name = "ssm",
    .json_target = "AmazonSSM",
    .json_version = "1.1",
    .json_ns = "com.amazonaws.ssm#",
    .schema_sql = schema,
    .ops = ssm_ops,
    .start = ssm_start,
};

static const struct dss_operation ec2messages_ops[] = {
    {"GetMessages", op_get_messages, DSS_OP_WRITE},
    {"AcknowledgeMessage", op_acknowledge_message, DSS_OP_WRITE},
    {"SendReply", op_send_reply, DSS_OP_WRITE},
    {NULL, NULL, 0},
};

const struct dss_service dss_ec2messages_service = {
    .name = "ec2messages",
    .json_target = "EC2WindowsMessageDeliveryService",
    .json_version = "1.1",
    .json_ns = "com.amazonaws.ec2messages#",
    .ops = ec2messages_ops,
};
