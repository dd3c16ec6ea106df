/* autoscaling.c -- Amazon EC2 Auto Scaling, API 2011-01-01, Query protocol.
 *
 * Supported: CreateAutoScalingGroup (LaunchTemplate, or MixedInstancesPolicy with overrides
 * and an on-demand/spot distribution; Min/Max/Desired; Tags with PropagateAtLaunch;
 * NewInstancesProtectedFromScaleIn), DescribeAutoScalingGroups, DescribeAutoScalingInstances,
 * UpdateAutoScalingGroup, SetDesiredCapacity (HonorCooldown), SetInstanceProtection,
 * TerminateInstanceInAutoScalingGroup (ShouldDecrementDesiredCapacity),
 * DeleteAutoScalingGroup (ForceDelete), DescribeScalingActivities.
 *
 * The reconciler (autoscaling_tick, run by the instance supervisor on the emulator clock)
 * keeps a group's Pending + InService instances equal to its desired capacity: it launches
 * with the launch template (and overrides, round-robin), the tags marked PropagateAtLaunch
 * plus aws:autoscaling:groupName, balancing across the group's zones; it scales in only
 * unprotected instances (the zone with most instances first, then the oldest); it replaces
 * instances that were terminated or stopped outside the group, or whose status checks fail
 * (the worker died). Lifecycle: Pending -> InService (the instance is running) ->
 * Terminating -> Terminated (then the instance leaves the group). SetDesiredCapacity outside
 * Min..Max is refused with ValidationError, never clamped. Scale-in protection does not stop
 * TerminateInstances or a Spot interruption: the group just replaces the instance.
 *
 * Limitations: no launch configurations, lifecycle hooks, warm pools, scaling policies,
 * load balancers or instance refresh; HealthCheckType ELB is treated as EC2.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "db.h"
#include "ec2/ec2.h"
#include "service.h"
#include "util.h"

#define ASG_ARN_FMT "arn:aws:autoscaling:%s:" EC2_ACCOUNT_ID ":autoScalingGroup:%s:autoScalingGroupName/%s"

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS asg_groups("
    "  name TEXT PRIMARY KEY,"
    "  uuid TEXT NOT NULL,"
    "  region TEXT NOT NULL,"
    "  created_ms INTEGER NOT NULL,"
    "  min_size INTEGER NOT NULL, max_size INTEGER NOT NULL, desired INTEGER NOT NULL,"
    "  lt TEXT,"                /* JSON LaunchTemplateSpecification */
    "  mixed TEXT,"             /* JSON MixedInstancesPolicy */
    "  azs TEXT NOT NULL,"      /* JSON array of zone names */
    "  vpc_zone TEXT NOT NULL DEFAULT '',"
    "  tags TEXT NOT NULL,"     /* JSON array of {Key, Value, PropagateAtLaunch} */
    "  cooldown INTEGER NOT NULL DEFAULT 300,"
    "  grace INTEGER NOT NULL DEFAULT 0,"
    "  health_type TEXT NOT NULL DEFAULT 'EC2',"
    "  protect_new INTEGER NOT NULL DEFAULT 0,"
    "  capacity_rebalance INTEGER NOT NULL DEFAULT 0,"
    "  deleting INTEGER NOT NULL DEFAULT 0,"
    "  last_scale_ms INTEGER NOT NULL DEFAULT 0,"
    "  launches INTEGER NOT NULL DEFAULT 0);"   /* round-robin counter for overrides */
    "CREATE TABLE IF NOT EXISTS asg_instances("
    "  instance_id TEXT PRIMARY KEY,"
    "  asg TEXT NOT NULL,"
    "  lifecycle TEXT NOT NULL,"  /* Pending, InService, Terminating, Terminated */
    "  health TEXT NOT NULL DEFAULT 'Healthy',"
    "  protected INTEGER NOT NULL DEFAULT 0,"
    "  az TEXT NOT NULL, instance_type TEXT NOT NULL, spot INTEGER NOT NULL DEFAULT 0,"
    "  lt TEXT, launch_ms INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS asg_instances_group ON asg_instances(asg);"
    "CREATE TABLE IF NOT EXISTS asg_activities("
    "  id TEXT PRIMARY KEY, seq INTEGER NOT NULL, asg TEXT NOT NULL, description TEXT NOT NULL,"
    "  cause TEXT NOT NULL, start_ms INTEGER NOT NULL, end_ms INTEGER, status TEXT NOT NULL,"
    "  details TEXT NOT NULL DEFAULT '{}');"
    "CREATE INDEX IF NOT EXISTS asg_activities_group ON asg_activities(asg, seq);"
    /* the few activities still in progress, found when their instance is terminated */
    "CREATE INDEX IF NOT EXISTS asg_activities_open ON asg_activities(asg, description) "
    "WHERE status = 'InProgress';";

static const cJSON *obj(const cJSON *o, const char *name)
{
    return cJSON_GetObjectItemCaseSensitive(o, name);
}

static const char *col(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

static void when_text(int64_t ms, char out[32])
{
    iso8601_ms(ms, out);
    memmove(out + 19, out + 23, strlen(out + 23) + 1); /* 2024-01-01T00:00:00Z */
}

/* ---- Groups ---- */

struct group {
    char name[256], uuid[37], region[64];
    int64_t created_ms, min, max, desired, cooldown, grace, last_scale_ms, launches;
    int protect_new, capacity_rebalance, deleting;
    char health_type[16];
    cJSON *lt, *mixed, *azs, *tags; /* owned */
    char vpc_zone[2048];
};

static void group_cleanup(struct group *g)
{
    cJSON_Delete(g->lt);
    cJSON_Delete(g->mixed);
    cJSON_Delete(g->azs);
    cJSON_Delete(g->tags);
    g->lt = g->mixed = g->azs = g->tags = NULL;
}

#define GROUP_COLS "name, uuid, region, created_ms, min_size, max_size, desired, lt, mixed, azs, vpc_zone, tags, " \
                   "cooldown, grace, health_type, protect_new, capacity_rebalance, deleting, last_scale_ms, launches"

static void group_from_row(sqlite3_stmt *st, struct group *g)
{
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", col(st, 0));
    snprintf(g->uuid, sizeof g->uuid, "%s", col(st, 1));
    snprintf(g->region, sizeof g->region, "%s", col(st, 2));
    g->created_ms = sqlite3_column_int64(st, 3);
    g->min = sqlite3_column_int64(st, 4);
    g->max = sqlite3_column_int64(st, 5);
    g->desired = sqlite3_column_int64(st, 6);
    g->lt = sqlite3_column_type(st, 7) == SQLITE_NULL ? NULL : cJSON_Parse(col(st, 7));
    g->mixed = sqlite3_column_type(st, 8) == SQLITE_NULL ? NULL : cJSON_Parse(col(st, 8));
    g->azs = cJSON_Parse(col(st, 9));
    snprintf(g->vpc_zone, sizeof g->vpc_zone, "%s", col(st, 10));
    g->tags = cJSON_Parse(col(st, 11));
    g->cooldown = sqlite3_column_int64(st, 12);
    g->grace = sqlite3_column_int64(st, 13);
    snprintf(g->health_type, sizeof g->health_type, "%s", col(st, 14));
    g->protect_new = sqlite3_column_int(st, 15);
    g->capacity_rebalance = sqlite3_column_int(st, 16);
    g->deleting = sqlite3_column_int(st, 17);
    g->last_scale_ms = sqlite3_column_int64(st, 18);
    g->launches = sqlite3_column_int64(st, 19);
    if (!g->azs)
        g->azs = cJSON_CreateArray();
    if (!g->tags)
        g->tags = cJSON_CreateArray();
}

static int group_load(const char *name, struct group *g)
{
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT " GROUP_COLS " FROM asg_groups WHERE name = ?");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        group_from_row(st, g);
        rc = 0;
    }
    sqlite3_reset(st);
    return rc;
}

static int group_required(struct dss_call *call, const cJSON *params, struct group *g)
{
    const char *name = dss_param_str(params, "AutoScalingGroupName");
    if (!name)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at "
                        "'autoScalingGroupName' failed to satisfy constraint: Member must not be null");
    if (group_load(name, g))
        return dss_fail(call, DSS_E_ValidationException, "AutoScalingGroup name not found - AutoScalingGroup %s "
                        "not found", name);
    return 0;
}

static int set_int(const char *sql_col_update, const char *name, int64_t v)
{
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE asg_groups SET %s = ? WHERE name = ?", sql_col_update);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(dss_db(NULL), sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    sqlite3_bind_int64(st, 1, v);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

static int set_text(const char *column, const char *name, const char *v)
{
    char sql[256];
    snprintf(sql, sizeof sql, "UPDATE asg_groups SET %s = ? WHERE name = ?", column);
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(dss_db(NULL), sql, -1, &st, NULL) != SQLITE_OK)
        return -1;
    if (v)
        sqlite3_bind_text(st, 1, v, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_finalize(st);
    return rc;
}

/* Runs a statement that returns no rows, binding up to two text parameters (NULL: unbound). */
static void run_sql(const char *sql, const char *p1, const char *p2)
{
    sqlite3_stmt *st = dss_stmt(NULL, sql);
    if (!st)
        return;
    if (p1)
        sqlite3_bind_text(st, 1, p1, -1, SQLITE_STATIC);
    if (p2)
        sqlite3_bind_text(st, 2, p2, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
}

/* A deleted group leaves nothing behind: its row and its activity history. */
static void group_forget(const char *name)
{
    run_sql("DELETE FROM asg_groups WHERE name = ?", name, NULL);
    run_sql("DELETE FROM asg_activities WHERE asg = ?", name, NULL);
}

/* ---- Activities ---- */

static cJSON *activity_add(const char *asg, const char *description, const char *cause, const char *status,
                           int64_t now)
{
    char id[37];
    if (ec2_new_uuid("asg-activity", id))
        return NULL;
    sqlite3_stmt *st = dss_stmt(NULL, "INSERT INTO asg_activities(id, seq, asg, description, cause, start_ms, end_ms, "
                                      "status) VALUES(?1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM asg_activities), "
                                      "?2, ?3, ?4, ?5, ?6, ?7)");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, asg, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, description, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, cause, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 5, now);
    if (strcmp(status, "InProgress")) /* an activity in progress has no end yet */
        sqlite3_bind_int64(st, 6, now);
    sqlite3_bind_text(st, 7, status, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
    cJSON *a = cJSON_CreateObject();
    cJSON_AddStringToObject(a, "ActivityId", id);
    cJSON_AddStringToObject(a, "AutoScalingGroupName", asg);
    cJSON_AddStringToObject(a, "Description", description);
    cJSON_AddStringToObject(a, "Cause", cause);
    cJSON_AddNumberToObject(a, "StartTime", (double)now / 1000.0);
    cJSON_AddStringToObject(a, "StatusCode", status);
    cJSON_AddNumberToObject(a, "Progress", !strcmp(status, "Successful") ? 100 : 0);
    return a;
}

/* ---- Launching and terminating members ---- */

struct lt_choice {
    cJSON *spec;      /* LaunchTemplateSpecification to launch with (owned) */
    const char *type; /* override's InstanceType or NULL (borrowed from the group) */
    int spot;
};

/* What the next launch uses: the override after the last one used, and on-demand or spot per
 * the InstancesDistribution given how many of each the group has. */
static void choose_launch(const struct group *g, int n_ondemand, int n_total, struct lt_choice *c)
{
    c->spot = 0;
    c->type = NULL;
    const cJSON *mlt = obj(g->mixed, "LaunchTemplate");
    c->spec = cJSON_Duplicate(g->mixed ? obj(mlt, "LaunchTemplateSpecification") : g->lt, 1);
    if (!g->mixed)
        return;
    const cJSON *ov = obj(mlt, "Overrides");
    int n_ov = cJSON_GetArraySize(ov);
    if (n_ov) {
        const cJSON *o = cJSON_GetArrayItem(ov, (int)(g->launches % n_ov));
        c->type = cJSON_GetStringValue(obj(o, "InstanceType"));
        if (obj(o, "LaunchTemplateSpecification")) {
            cJSON_Delete(c->spec);
            c->spec = cJSON_Duplicate(obj(o, "LaunchTemplateSpecification"), 1);
        }
    }
    const cJSON *d = obj(g->mixed, "InstancesDistribution");
    int64_t base = 0, pct = 100;
    if (cJSON_IsNumber(obj(d, "OnDemandBaseCapacity")))
        base = (int64_t)obj(d, "OnDemandBaseCapacity")->valuedouble;
    if (cJSON_IsNumber(obj(d, "OnDemandPercentageAboveBaseCapacity")))
        pct = (int64_t)obj(d, "OnDemandPercentageAboveBaseCapacity")->valuedouble;
    int64_t total = n_total + 1; /* with the one we launch */
    int64_t above = total > base ? total - base : 0;
    int64_t want_od = (total < base ? total : base) + (above * pct + 99) / 100;
    c->spot = n_ondemand + 1 > want_od;
}

static const char *least_used_az(const struct group *g, char out[80])
{
    int best = -1;
    const cJSON *z;
    out[0] = '\0';
    cJSON_ArrayForEach(z, g->azs) {
        if (!cJSON_IsString(z))
            continue;
        sqlite3_stmt *st = dss_stmt(NULL, "SELECT COUNT(*) FROM asg_instances WHERE asg = ? AND az = ? AND "
                                          "lifecycle IN ('Pending', 'InService')");
        sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, z->valuestring, -1, SQLITE_STATIC);
        int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_reset(st);
        if (best < 0 || n < best) {
            best = n;
            snprintf(out, 80, "%s", z->valuestring);
        }
    }
    return out[0] ? out : NULL;
}

static int launch_one(struct group *g, int n_ondemand, int n_total, int64_t now, int64_t from, int64_t to)
{
    struct lt_choice c;
    choose_launch(g, n_ondemand, n_total, &c);
    char lt_id[32], lt_name[160], az[80], id[20], ver[24];
    int64_t v = 0;
    cJSON *data = ec2_launch_template_data(NULL, cJSON_GetStringValue(obj(c.spec, "LaunchTemplateId")),
                                           cJSON_GetStringValue(obj(c.spec, "LaunchTemplateName")),
                                           cJSON_GetStringValue(obj(c.spec, "Version")), lt_id, lt_name, &v);
    int rc = -1;
    cJSON *tags = cJSON_CreateArray();
    if (!data) {
        char cause[512];
        snprintf(cause, sizeof cause, "At %lld the launch template of the group could not be found.",
                 (long long)(now / 1000));
        cJSON_Delete(activity_add(g->name, "Launching a new EC2 instance.  Status Reason: The specified launch "
                                  "template does not exist.", cause, "Failed", now));
        goto out;
    }
    const cJSON *t, *spec;
    cJSON_ArrayForEach(spec, obj(data, "TagSpecifications")) { /* template tags first, group tags win */
        const char *rt = cJSON_GetStringValue(obj(spec, "ResourceType"));
        if (rt && strcmp(rt, "instance"))
            continue;
        cJSON_ArrayForEach(t, obj(spec, "Tags")) cJSON_AddItemToArray(tags, cJSON_Duplicate(t, 1));
    }
    cJSON_ArrayForEach(t, g->tags) {
        if (!cJSON_IsTrue(obj(t, "PropagateAtLaunch")))
            continue;
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "Key", cJSON_GetStringValue(obj(t, "Key")) ? obj(t, "Key")->valuestring : "");
        cJSON_AddStringToObject(e, "Value", cJSON_GetStringValue(obj(t, "Value")) ? obj(t, "Value")->valuestring : "");
        cJSON_AddItemToArray(tags, e);
    }
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "Key", "aws:autoscaling:groupName");
    cJSON_AddStringToObject(e, "Value", g->name);
    cJSON_AddItemToArray(tags, e);
    char res_id[32];
    ec2_new_id("reservation", "r-", 17, res_id, sizeof res_id);
    snprintf(ver, sizeof ver, "%lld", (long long)v);
    const char *type = c.type ? c.type : cJSON_GetStringValue(obj(data, "InstanceType"));
    const char *image = cJSON_GetStringValue(obj(data, "ImageId"));
    const char *market = cJSON_GetStringValue(obj(obj(data, "InstanceMarketOptions"), "MarketType"));
    int spot = c.spot || (!g->mixed && market && !strcmp(market, "spot"));
    struct ec2_launch l = {.region = g->region, .image_id = image ? image : "ami-0dss0000000000001",
                           .instance_type = type ? type : "m1.small", .spot = spot,
                           .az = least_used_az(g, az), .lt_id = lt_id, .lt_name = lt_name, .lt_version = ver,
                           .asg_name = g->name, .reservation_id = res_id, .tags = tags};
    if (ec2_launch_instance(&l, id))
        goto out;
    char *spec_text = cJSON_PrintUnformatted(c.spec);
    sqlite3_stmt *st = dss_stmt(NULL, "INSERT INTO asg_instances(instance_id, asg, lifecycle, protected, az, "
                                      "instance_type, spot, lt, launch_ms) VALUES(?, ?, 'Pending', ?, ?, ?, ?, ?, ?)");
    char dflt_az[80];
    snprintf(dflt_az, sizeof dflt_az, "%sa", g->region);
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, g->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, g->protect_new);
    sqlite3_bind_text(st, 4, l.az ? l.az : dflt_az, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 5, l.instance_type, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 6, spot);
    sqlite3_bind_text(st, 7, spec_text ? spec_text : "{}", -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 8, now);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    sqlite3_reset(st);
    free(spec_text);
    g->launches++;
    set_int("launches", g->name, g->launches);
    char desc[128], cause[512], at[32];
    when_text(now, at);
    snprintf(desc, sizeof desc, "Launching a new EC2 instance: %s", id);
    snprintf(cause, sizeof cause, "At %s an instance was started in response to a difference between desired "
             "and actual capacity, increasing the capacity from %lld to %lld.", at, (long long)from, (long long)to);
    cJSON_Delete(activity_add(g->name, desc, cause, "Successful", now));
    dss_event("autoscaling.launch", "{\"group\":\"%s\",\"instance_id\":\"%s\",\"spot\":%s}", g->name, id,
              spot ? "true" : "false");
out:
    cJSON_Delete(tags);
    cJSON_Delete(data);
    cJSON_Delete(c.spec);
    return rc;
}

static void member_terminate(const char *asg, const char *id, const char *cause, int64_t now)
{
    run_sql("UPDATE asg_instances SET lifecycle = 'Terminating' WHERE instance_id = ?", id, NULL);
    ec2_terminate_instance(id, NULL, NULL);
    char desc[128];
    snprintf(desc, sizeof desc, "Terminating EC2 instance: %s", id);
    cJSON_Delete(activity_add(asg, desc, cause, "Successful", now));
    dss_event("autoscaling.terminate", "{\"group\":\"%s\",\"instance_id\":\"%s\"}", asg, id);
}

/* The activity that terminates member id (TerminateInstanceInAutoScalingGroup's, answered
 * InProgress) ends when the instance is terminated. */
static void activity_done(const char *asg, const char *id, int64_t now)
{
    char desc[128];
    snprintf(desc, sizeof desc, "Terminating EC2 instance: %s", id);
    sqlite3_stmt *st = dss_stmt(NULL, "UPDATE asg_activities SET status = 'Successful', end_ms = ?1 WHERE asg = ?2 "
                                      "AND description = ?3 AND status = 'InProgress'");
    if (!st)
        return;
    sqlite3_bind_int64(st, 1, now);
    sqlite3_bind_text(st, 2, asg, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, desc, -1, SQLITE_STATIC);
    sqlite3_step(st);
    sqlite3_reset(st);
}

/* Brings members' lifecycle in line with their instances. */
static void sync_members(const char *asg, int64_t now)
{
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT a.instance_id, a.lifecycle, i.state, i.worker FROM asg_instances a "
                                      "LEFT JOIN ec2_instances i ON i.id = a.instance_id WHERE a.asg = ?");
    sqlite3_bind_text(st, 1, asg, -1, SQLITE_STATIC);
    /* Every member: a group may hold many hundreds (the seed's default maximum is 500). */
    struct member { char id[20], lifecycle[16], state[16], worker[16]; } *m = NULL;
    int n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            int nc = cap ? 2 * cap : 64;
            struct member *g = realloc(m, (size_t)nc * sizeof *g);
            if (!g)
                break;
            m = g;
            cap = nc;
        }
        struct member *e = &m[n++];
        snprintf(e->id, sizeof e->id, "%s", col(st, 0));
        snprintf(e->lifecycle, sizeof e->lifecycle, "%s", col(st, 1));
        snprintf(e->state, sizeof e->state, "%s", col(st, 2));
        snprintf(e->worker, sizeof e->worker, "%s", col(st, 3));
    }
    sqlite3_reset(st);
    for (int i = 0; i < n; i++) {
        const char *next = NULL, *cause = NULL;
        int gone = !m[i].state[0] || !strcmp(m[i].state, EC2_TERMINATED);
        int leaving = gone || !strcmp(m[i].state, EC2_SHUTTING_DOWN) || !strcmp(m[i].state, EC2_STOPPING) ||
                      !strcmp(m[i].state, EC2_STOPPED);
        if (!strcmp(m[i].lifecycle, "Terminating")) {
            if (gone) {
                next = "Terminated";
                activity_done(asg, m[i].id, now);
            }
        } else if (leaving) {
            next = "Terminated";
            cause = "an instance was taken out of service in response to an EC2 health check indicating it has "
                    "been terminated or stopped.";
        } else if (!strcmp(m[i].state, EC2_RUNNING) && !strcmp(m[i].worker, "dead")) {
            char c2[512], at[32];
            when_text(now, at);
            snprintf(c2, sizeof c2, "At %s an instance was taken out of service in response to an EC2 instance "
                     "status checks failure.", at);
            run_sql("UPDATE asg_instances SET health = 'Unhealthy' WHERE instance_id = ?", m[i].id, NULL);
            member_terminate(asg, m[i].id, c2, now);
            continue;
        } else if (!strcmp(m[i].lifecycle, "Pending") && !strcmp(m[i].state, EC2_RUNNING)) {
            next = "InService";
        }
        if (!next)
            continue;
        if (!strcmp(next, "Terminated")) {
            if (cause) {
                char desc[128], c2[512], at[32];
                when_text(now, at);
                snprintf(desc, sizeof desc, "Terminating EC2 instance: %.19s", m[i].id);
                snprintf(c2, sizeof c2, "At %s %s", at, cause);
                cJSON_Delete(activity_add(asg, desc, c2, "Successful", now));
            }
            /* Leaves the group; a terminating instance is still shown until it is terminated. */
            run_sql("DELETE FROM asg_instances WHERE instance_id = ?", m[i].id, NULL);
        } else {
            run_sql("UPDATE asg_instances SET lifecycle = ? WHERE instance_id = ?", next, m[i].id);
        }
    }
    free(m);
}

/* Brings group g to its desired capacity. Returns 1 when it has it (settled: the next call
 * would change nothing unless a table it reads changes), 0 when launches are still owed. */
static int reconcile_group(struct group *g, int64_t now)
{
    sync_members(g->name, now);
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT COUNT(*), COALESCE(SUM(spot = 0), 0) FROM asg_instances WHERE asg = ? "
                                      "AND lifecycle IN ('Pending', 'InService')");
    sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
    int count = 0, ondemand = 0;
    if (sqlite3_step(st) == SQLITE_ROW) {
        count = sqlite3_column_int(st, 0);
        ondemand = sqlite3_column_int(st, 1);
    }
    sqlite3_reset(st);
    if (g->deleting) {
        st = dss_stmt(NULL, "SELECT COUNT(*) FROM asg_instances WHERE asg = ?");
        sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
        int left = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_reset(st);
        if (!left) {
            group_forget(g->name);
            return 1;
        }
    }
    int64_t desired = g->deleting ? 0 : g->desired;
    for (int64_t from = count; count < desired && count - from < 200; ) {
        if (launch_one(g, ondemand, count, now, from, desired))
            break;
        count++;
        ondemand += 0; /* recounted below when needed */
        st = dss_stmt(NULL, "SELECT COALESCE(SUM(spot = 0), 0) FROM asg_instances WHERE asg = ? AND lifecycle IN "
                            "('Pending', 'InService')");
        sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            ondemand = sqlite3_column_int(st, 0);
        sqlite3_reset(st);
    }
    if (count > desired) {
        /* Scale in: unprotected only (all when deleting); zone with most first, then oldest. */
        st = dss_stmt(NULL, "SELECT a.instance_id FROM asg_instances a WHERE a.asg = ?1 AND a.lifecycle IN "
                            "('Pending', 'InService') AND (a.protected = 0 OR ?2) ORDER BY (SELECT COUNT(*) FROM "
                            "asg_instances b WHERE b.asg = a.asg AND b.az = a.az AND b.lifecycle IN ('Pending', "
                            "'InService')) DESC, a.launch_ms, a.instance_id LIMIT ?3");
        sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
        sqlite3_bind_int(st, 2, g->deleting);
        sqlite3_bind_int64(st, 3, count - desired);
        char ids[200][20];
        int n = 0;
        while (n < 200 && sqlite3_step(st) == SQLITE_ROW)
            snprintf(ids[n++], 20, "%s", col(st, 0));
        sqlite3_reset(st);
        char cause[512], at[32];
        when_text(now, at);
        snprintf(cause, sizeof cause, g->deleting ? "At %s the group was deleted." :
                 "At %s a user request explicitly set group desired capacity changing the desired capacity, "
                 "shrinking the capacity from %d to %lld.", at, count, (long long)desired);
        for (int i = 0; i < n; i++)
            member_terminate(g->name, ids[i], cause, now);
    }
    return count >= desired;
}

/* The tables reconcile_group() reads: while none changes, a settled group stays settled. */
static const char *const read_tables[] = {"asg_groups", "asg_instances", "ec2_instances", "ec2_launch_templates",
                                          "ec2_lt_versions", NULL};

int64_t autoscaling_tick(int64_t now)
{
    /* Every group settled at the last tick and nothing it reads has changed since: this tick
     * would change nothing (a tick reads every member of every group and its instance, which
     * the simulated clock's barrier did for every turn, a tenth of the emulator's CPU). Only
     * the supervisor's thread ticks. */
    static struct dss_db_tables reads = {.names = read_tables};
    static int settled;
    static unsigned long settled_at;
    unsigned long changes = dss_db_tables_changes(&reads);
    if (settled && changes == settled_at)
        return 0;
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT name FROM asg_groups ORDER BY name");
    if (!st)
        return 0;
    char (*names)[256] = NULL;
    int n = 0, cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char (*g)[256] = realloc(names, (size_t)cap * sizeof *names);
            if (!g)
                break;
            names = g;
        }
        snprintf(names[n++], 256, "%s", col(st, 0));
    }
    sqlite3_reset(st);
    int all_settled = 1;
    for (int i = 0; i < n; i++) {
        struct group g;
        if (group_load(names[i], &g) == 0) {
            all_settled &= reconcile_group(&g, now);
            group_cleanup(&g);
        } else {
            all_settled = 0;
        }
    }
    free(names);
    settled = all_settled;
    settled_at = changes; /* what this tick changed itself makes the next one run */
    return 0;
}

/* ======================================================================================
 * Operations
 * ====================================================================================== */

static int check_sizes(struct dss_call *call, int64_t min, int64_t max, int64_t desired)
{
    if (min < 0 || max < 0)
        return dss_fail(call, DSS_E_ValidationException, "Min and max sizes must be non-negative.");
    if (min > max)
        return dss_fail(call, DSS_E_ValidationException, "Max bound, %lld, must be greater than or equal to min "
                        "bound, %lld", (long long)max, (long long)min);
    if (desired < min || desired > max)
        return dss_fail(call, DSS_E_ValidationException, "Desired capacity:%lld must be between the specified min "
                        "size:%lld and max size:%lld", (long long)desired, (long long)min, (long long)max);
    return 0;
}

/* The launch template (spec) exists? */
static int check_template(struct dss_call *call, const cJSON *spec)
{
    char id[32], name[160];
    int64_t v;
    const char *lid = cJSON_GetStringValue(obj(spec, "LaunchTemplateId"));
    const char *lname = cJSON_GetStringValue(obj(spec, "LaunchTemplateName"));
    if (!lid && !lname)
        return dss_fail(call, DSS_E_ValidationException, "Valid requests must contain either LaunchTemplateId or "
                        "LaunchTemplateName.");
    cJSON *data = ec2_launch_template_data(NULL, lid, lname, cJSON_GetStringValue(obj(spec, "Version")), id, name, &v);
    if (!data)
        return dss_fail(call, DSS_E_ValidationException, "You must use a valid fully-formed launch template. The "
                        "specified launch template, with template %s %s, does not exist.", lid ? "ID" : "name",
                        lid ? lid : lname);
    cJSON_Delete(data);
    return 0;
}

static cJSON *azs_param(struct dss_call *call, const cJSON *params)
{
    cJSON *azs = cJSON_Duplicate(obj(params, "AvailabilityZones"), 1);
    if (!azs)
        azs = cJSON_CreateArray();
    const char *vpc = dss_param_str(params, "VPCZoneIdentifier");
    if (!cJSON_GetArraySize(azs) && vpc && *vpc) {
        /* Subnets map onto the region's zones in order (no VPC model). */
        int n = 1;
        for (const char *p = vpc; *p; p++)
            n += *p == ',';
        for (int i = 0; i < n && i < 3; i++) {
            char z[80];
            snprintf(z, sizeof z, "%s%c", dss_call_region(call), 'a' + i);
            cJSON_AddItemToArray(azs, cJSON_CreateString(z));
        }
    }
    return azs;
}

/* CreateAutoScalingGroup: AutoScalingGroupName, LaunchTemplate | MixedInstancesPolicy,
 * MinSize, MaxSize, DesiredCapacity, AvailabilityZones | VPCZoneIdentifier, Tags, ... */
static int op_create_group(struct dss_call *call, const cJSON *params, cJSON **result)
{
    (void)result;
    const char *name = dss_param_str(params, "AutoScalingGroupName");
    int64_t min = 0, max = 0, desired = 0, cooldown = 300, grace = 0;
    if (!name || !*name || strlen(name) > 255)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value at "
                        "'autoScalingGroupName' failed to satisfy constraint: Member must have length between 1 and 255");
    if (dss_param_int(params, "MinSize", &min) != 0)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at 'minSize' "
                        "failed to satisfy constraint: Member must not be null");
    if (dss_param_int(params, "MaxSize", &max) != 0)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at 'maxSize' "
                        "failed to satisfy constraint: Member must not be null");
    if (dss_param_int(params, "DesiredCapacity", &desired) != 0)
        desired = min;
    dss_param_int(params, "DefaultCooldown", &cooldown);
    dss_param_int(params, "HealthCheckGracePeriod", &grace);
    if (check_sizes(call, min, max, desired))
        return DSS_ERR;
    struct group g;
    if (group_load(name, &g) == 0) {
        group_cleanup(&g);
        return dss_fail(call, DSS_E_AsgAlreadyExists, "AutoScalingGroup by this name already exists - A group "
                        "with the name %s already exists", name);
    }
    const cJSON *lt = obj(params, "LaunchTemplate"), *mixed = obj(params, "MixedInstancesPolicy");
    if (dss_param_str(params, "LaunchConfigurationName") || dss_param_str(params, "InstanceId"))
        return dss_fail(call, DSS_E_ValidationException, "dss supports launch templates only (LaunchTemplate or "
                        "MixedInstancesPolicy).");
    if (!lt == !mixed)
        return dss_fail(call, DSS_E_ValidationException, "Valid requests must contain either LaunchTemplate, "
                        "LaunchConfigurationName, InstanceId or MixedInstancesPolicy parameter.");
    if (check_template(call, lt ? lt : obj(obj(mixed, "LaunchTemplate"), "LaunchTemplateSpecification")))
        return DSS_ERR;
    cJSON *azs = azs_param(call, params);
    if (!cJSON_GetArraySize(azs)) {
        cJSON_Delete(azs);
        return dss_fail(call, DSS_E_ValidationException, "At least one Availability Zone or VPC Subnet is required.");
    }
    cJSON *tags = cJSON_CreateArray();
    const cJSON *t;
    cJSON_ArrayForEach(t, obj(params, "Tags")) {
        const char *k = cJSON_GetStringValue(obj(t, "Key"));
        if (!k || !*k || strlen(k) > 128 || !strncmp(k, "aws:", 4)) {
            cJSON_Delete(tags);
            cJSON_Delete(azs);
            return dss_fail(call, DSS_E_ValidationException, "Tag keys must be 1 to 128 characters and may not "
                            "start with aws:");
        }
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "Key", k);
        cJSON_AddStringToObject(e, "Value", cJSON_GetStringValue(obj(t, "Value")) ? obj(t, "Value")->valuestring : "");
        cJSON_AddBoolToObject(e, "PropagateAtLaunch", cJSON_IsTrue(obj(t, "PropagateAtLaunch")));
        cJSON_AddItemToArray(tags, e);
    }
    char uuid[37];
    ec2_new_uuid("asg", uuid);
    char *lt_text = lt ? cJSON_PrintUnformatted(lt) : NULL, *mixed_text = mixed ? cJSON_PrintUnformatted(mixed) : NULL;
    char *azs_text = cJSON_PrintUnformatted(azs), *tags_text = cJSON_PrintUnformatted(tags);
    sqlite3_stmt *st = dss_stmt(call, "INSERT INTO asg_groups(name, uuid, region, created_ms, min_size, max_size, "
                                      "desired, lt, mixed, azs, vpc_zone, tags, cooldown, grace, health_type, "
                                      "protect_new, capacity_rebalance) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
                                      "?, ?, ?, ?)");
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 3, dss_call_region(call), -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 4, dss_clock_now_ms());
    sqlite3_bind_int64(st, 5, min);
    sqlite3_bind_int64(st, 6, max);
    sqlite3_bind_int64(st, 7, desired);
    if (lt_text)
        sqlite3_bind_text(st, 8, lt_text, -1, SQLITE_STATIC);
    if (mixed_text)
        sqlite3_bind_text(st, 9, mixed_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 10, azs_text, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 11, dss_param_str(params, "VPCZoneIdentifier") ? dss_param_str(params, "VPCZoneIdentifier")
                                                                         : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 12, tags_text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 13, cooldown);
    sqlite3_bind_int64(st, 14, grace);
    sqlite3_bind_text(st, 15, dss_param_str(params, "HealthCheckType") ? dss_param_str(params, "HealthCheckType")
                                                                       : "EC2", -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 16, cJSON_IsTrue(obj(params, "NewInstancesProtectedFromScaleIn")));
    sqlite3_bind_int(st, 17, cJSON_IsTrue(obj(params, "CapacityRebalance")));
    int ok = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_reset(st);
    free(lt_text);
    free(mixed_text);
    free(azs_text);
    free(tags_text);
    cJSON_Delete(azs);
    cJSON_Delete(tags);
    if (!ok)
        return dss_fail(call, DSS_E_InternalFailure, "The group could not be stored.");
    instances_poke();
    return DSS_OK;
}

static cJSON *member_json(sqlite3_stmt *st, int with_group)
{
    /* columns: instance_id, asg, lifecycle, health, protected, az, instance_type, lt, spot */
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "InstanceId", col(st, 0));
    if (with_group)
        cJSON_AddStringToObject(m, "AutoScalingGroupName", col(st, 1));
    cJSON_AddStringToObject(m, "InstanceType", col(st, 6));
    cJSON_AddStringToObject(m, "AvailabilityZone", col(st, 5));
    cJSON_AddStringToObject(m, "LifecycleState", col(st, 2));
    cJSON_AddStringToObject(m, "HealthStatus", with_group ? (strcmp(col(st, 3), "Healthy") ? "UNHEALTHY" : "HEALTHY")
                                                          : col(st, 3));
    cJSON *lt = cJSON_Parse(col(st, 7));
    if (lt && obj(lt, "LaunchTemplateId")) {
        cJSON_AddItemToObject(m, "LaunchTemplate", lt);
    } else if (lt && obj(lt, "LaunchTemplateName")) {
        char id[32], name[160];
        int64_t v;
        cJSON *d = ec2_launch_template_data(NULL, NULL, obj(lt, "LaunchTemplateName")->valuestring,
                                            cJSON_GetStringValue(obj(lt, "Version")), id, name, &v);
        cJSON_Delete(d);
        cJSON_AddStringToObject(lt, "LaunchTemplateId", id);
        cJSON_AddItemToObject(m, "LaunchTemplate", lt);
    } else {
        cJSON_Delete(lt);
    }
    cJSON_AddBoolToObject(m, "ProtectedFromScaleIn", sqlite3_column_int(st, 4));
    return m;
}

#define MEMBER_COLS "instance_id, asg, lifecycle, health, protected, az, instance_type, lt, spot"

static cJSON *group_json(const struct group *g)
{
    cJSON *o = cJSON_CreateObject();
    char arn[512];
    snprintf(arn, sizeof arn, ASG_ARN_FMT, g->region, g->uuid, g->name);
    cJSON_AddStringToObject(o, "AutoScalingGroupName", g->name);
    cJSON_AddStringToObject(o, "AutoScalingGroupARN", arn);
    if (g->lt)
        cJSON_AddItemToObject(o, "LaunchTemplate", cJSON_Duplicate(g->lt, 1));
    if (g->mixed)
        cJSON_AddItemToObject(o, "MixedInstancesPolicy", cJSON_Duplicate(g->mixed, 1));
    cJSON_AddNumberToObject(o, "MinSize", (double)g->min);
    cJSON_AddNumberToObject(o, "MaxSize", (double)g->max);
    cJSON_AddNumberToObject(o, "DesiredCapacity", (double)g->desired);
    cJSON_AddNumberToObject(o, "DefaultCooldown", (double)g->cooldown);
    cJSON_AddItemToObject(o, "AvailabilityZones", cJSON_Duplicate(g->azs, 1));
    cJSON_AddItemToObject(o, "LoadBalancerNames", cJSON_CreateArray());
    cJSON_AddItemToObject(o, "TargetGroupARNs", cJSON_CreateArray());
    cJSON_AddStringToObject(o, "HealthCheckType", g->health_type);
    cJSON_AddNumberToObject(o, "HealthCheckGracePeriod", (double)g->grace);
    cJSON *members = cJSON_AddArrayToObject(o, "Instances");
    sqlite3_stmt *st = dss_stmt(NULL, "SELECT " MEMBER_COLS " FROM asg_instances WHERE asg = ? ORDER BY launch_ms, "
                                      "instance_id");
    sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
    while (sqlite3_step(st) == SQLITE_ROW)
        cJSON_AddItemToArray(members, member_json(st, 0));
    sqlite3_reset(st);
    int64_t created_s = g->created_ms / 1000; /* whole seconds, as Auto Scaling answers */
    cJSON_AddNumberToObject(o, "CreatedTime", (double)created_s);
    cJSON_AddItemToObject(o, "SuspendedProcesses", cJSON_CreateArray());
    cJSON_AddStringToObject(o, "VPCZoneIdentifier", g->vpc_zone);
    cJSON_AddItemToObject(o, "EnabledMetrics", cJSON_CreateArray());
    if (g->deleting)
        cJSON_AddStringToObject(o, "Status", "Delete in progress");
    cJSON *tags = cJSON_AddArrayToObject(o, "Tags");
    const cJSON *t;
    cJSON_ArrayForEach(t, g->tags) {
        cJSON *e = cJSON_Duplicate(t, 1);
        cJSON_AddStringToObject(e, "ResourceId", g->name);
        cJSON_AddStringToObject(e, "ResourceType", "auto-scaling-group");
        cJSON_AddItemToArray(tags, e);
    }
    cJSON *pol = cJSON_AddArrayToObject(o, "TerminationPolicies");
    cJSON_AddItemToArray(pol, cJSON_CreateString("Default"));
    cJSON_AddBoolToObject(o, "NewInstancesProtectedFromScaleIn", g->protect_new);
    cJSON_AddStringToObject(o, "ServiceLinkedRoleARN", "arn:aws:iam::" EC2_ACCOUNT_ID ":role/aws-service-role/"
                            "autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling");
    cJSON_AddBoolToObject(o, "CapacityRebalance", g->capacity_rebalance);
    return o;
}

static int tags_match(const struct group *g, const cJSON *filters)
{
    const cJSON *f, *v;
    cJSON_ArrayForEach(f, filters) {
        const char *n = cJSON_GetStringValue(obj(f, "Name"));
        int hit = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, g->tags) {
            const char *k = cJSON_GetStringValue(obj(t, "Key")), *val = cJSON_GetStringValue(obj(t, "Value"));
            cJSON_ArrayForEach(v, obj(f, "Values")) {
                const char *want = cJSON_GetStringValue(v);
                if (!want || !n)
                    continue;
                if ((!strncmp(n, "tag:", 4) && !strcmp(k, n + 4) && !strcmp(val, want)) ||
                    (!strcmp(n, "tag-key") && !strcmp(k, want)) || (!strcmp(n, "tag-value") && !strcmp(val, want)))
                    hit = 1;
            }
        }
        if (!hit)
            return 0;
    }
    return 1;
}

/* MaxRecords (1..limit; dflt when absent), as every Describe operation takes it. */
static int max_records(struct dss_call *call, const cJSON *params, int64_t dflt, int64_t limit, int64_t *max)
{
    *max = dflt;
    int r = dss_param_int(params, "MaxRecords", max);
    if (r < 0 || (r == 0 && (*max < 1 || *max > limit)))
        return dss_fail(call, DSS_E_ValidationException, "MaxRecords must be between 1 and %lld.", (long long)limit);
    return DSS_OK;
}

/* DescribeAutoScalingGroups: AutoScalingGroupNames, Filters, MaxRecords, NextToken. */
static int op_describe_groups(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *names = obj(params, "AutoScalingGroupNames"), *filters = obj(params, "Filters"), *f;
    cJSON_ArrayForEach(f, filters) {
        const char *n = cJSON_GetStringValue(obj(f, "Name"));
        if (!n || (strncmp(n, "tag:", 4) && strcmp(n, "tag-key") && strcmp(n, "tag-value")))
            return dss_fail(call, DSS_E_ValidationException, "Filter name %s is not valid.", n ? n : "null");
    }
    int64_t max;
    if (max_records(call, params, 50, 100, &max))
        return DSS_ERR;
    const char *tok = dss_param_str(params, "NextToken");
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "AutoScalingGroups");
    sqlite3_stmt *st = dss_stmt(call, "SELECT " GROUP_COLS " FROM asg_groups WHERE (?1 IS NULL OR name > ?1) "
                                      "ORDER BY name");
    if (tok)
        sqlite3_bind_text(st, 1, tok, -1, SQLITE_STATIC);
    struct group *gs = NULL;
    int n = 0, more = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        struct group g;
        group_from_row(st, &g);
        int keep = 1;
        if (cJSON_GetArraySize(names)) {
            keep = 0;
            cJSON_ArrayForEach(f, names) keep |= cJSON_IsString(f) && !strcmp(f->valuestring, g.name);
        }
        if (keep && !tags_match(&g, filters))
            keep = 0;
        if (!keep) {
            group_cleanup(&g);
            continue;
        }
        if (n == max) {
            more = 1;
            group_cleanup(&g);
            break;
        }
        struct group *grown = realloc(gs, (size_t)(n + 1) * sizeof *gs);
        if (!grown) {
            group_cleanup(&g);
            break;
        }
        gs = grown;
        gs[n++] = g;
    }
    sqlite3_reset(st);
    for (int i = 0; i < n; i++) {
        cJSON_AddItemToArray(list, group_json(&gs[i]));
        if (more && i == n - 1)
            cJSON_AddStringToObject(out, "NextToken", gs[i].name);
        group_cleanup(&gs[i]);
    }
    free(gs);
    *result = out;
    return DSS_OK;
}

/* DescribeAutoScalingInstances: InstanceIds, MaxRecords, NextToken. */
static int op_describe_instances(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const cJSON *ids = obj(params, "InstanceIds"), *v;
    int64_t max;
    if (max_records(call, params, 50, 50, &max))
        return DSS_ERR;
    const char *tok = dss_param_str(params, "NextToken");
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "AutoScalingInstances");
    sqlite3_stmt *st = dss_stmt(call, "SELECT " MEMBER_COLS " FROM asg_instances WHERE (?1 IS NULL OR instance_id > ?1) "
                                      "ORDER BY instance_id");
    if (tok)
        sqlite3_bind_text(st, 1, tok, -1, SQLITE_STATIC);
    int n = 0;
    char last[20] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        int keep = !cJSON_GetArraySize(ids);
        cJSON_ArrayForEach(v, ids) keep |= cJSON_IsString(v) && !strcmp(v->valuestring, col(st, 0));
        if (!keep)
            continue;
        if (n == max) {
            cJSON_AddStringToObject(out, "NextToken", last);
            break;
        }
        cJSON_AddItemToArray(list, member_json(st, 1));
        snprintf(last, sizeof last, "%s", col(st, 0));
        n++;
    }
    sqlite3_reset(st);
    *result = out;
    return DSS_OK;
}

/* The operations on one named group: the group is loaded (or the call refused) before, and
 * freed after, whatever the operation returns. */
typedef int group_op_fn(struct dss_call *call, const cJSON *params, struct group *g, cJSON **result);

static int with_group(group_op_fn *fn, struct dss_call *call, const cJSON *params, cJSON **result)
{
    struct group g;
    if (group_required(call, params, &g))
        return DSS_ERR;
    int rc = fn(call, params, &g, result);
    group_cleanup(&g);
    return rc;
}

#define GROUP_OP(op, fn)                                                                                \
    static int op(struct dss_call *call, const cJSON *params, cJSON **result)                           \
    {                                                                                                   \
        return with_group(fn, call, params, result);                                                    \
    }

/* UpdateAutoScalingGroup: AutoScalingGroupName and any of MinSize, MaxSize, DesiredCapacity,
 * LaunchTemplate, MixedInstancesPolicy, AvailabilityZones, VPCZoneIdentifier, DefaultCooldown,
 * NewInstancesProtectedFromScaleIn, HealthCheckGracePeriod. */
static int update_group(struct dss_call *call, const cJSON *params, struct group *g, cJSON **result)
{
    (void)result;
    int64_t min = g->min, max = g->max, desired = g->desired, v;
    int has_min = dss_param_int(params, "MinSize", &min) == 0, has_max = dss_param_int(params, "MaxSize", &max) == 0;
    int has_desired = dss_param_int(params, "DesiredCapacity", &desired) == 0;
    if (!has_desired && has_min && desired < min) /* as AWS: a new bound moves desired along */
        desired = min;
    if (!has_desired && has_max && desired > max)
        desired = max;
    if (check_sizes(call, min, max, desired))
        return DSS_ERR;
    const cJSON *lt = obj(params, "LaunchTemplate"), *mixed = obj(params, "MixedInstancesPolicy");
    if ((lt && check_template(call, lt)) ||
        (mixed && obj(obj(mixed, "LaunchTemplate"), "LaunchTemplateSpecification") &&
         check_template(call, obj(obj(mixed, "LaunchTemplate"), "LaunchTemplateSpecification"))))
        return DSS_ERR;
    set_int("min_size", g->name, min);
    set_int("max_size", g->name, max);
    set_int("desired", g->name, desired);
    if (lt || mixed) {
        char *lt_text = lt ? cJSON_PrintUnformatted(lt) : NULL, *mixed_text = mixed ? cJSON_PrintUnformatted(mixed) : NULL;
        set_text("lt", g->name, lt_text);
        set_text("mixed", g->name, mixed_text);
        free(lt_text);
        free(mixed_text);
    }
    if (obj(params, "AvailabilityZones") || dss_param_str(params, "VPCZoneIdentifier")) {
        cJSON *azs = azs_param(call, params);
        char *text = cJSON_PrintUnformatted(azs);
        if (cJSON_GetArraySize(azs))
            set_text("azs", g->name, text);
        free(text);
        cJSON_Delete(azs);
        if (dss_param_str(params, "VPCZoneIdentifier"))
            set_text("vpc_zone", g->name, dss_param_str(params, "VPCZoneIdentifier"));
    }
    if (dss_param_int(params, "DefaultCooldown", &v) == 0)
        set_int("cooldown", g->name, v);
    if (dss_param_int(params, "HealthCheckGracePeriod", &v) == 0)
        set_int("grace", g->name, v);
    if (obj(params, "NewInstancesProtectedFromScaleIn"))
        set_int("protect_new", g->name, cJSON_IsTrue(obj(params, "NewInstancesProtectedFromScaleIn")));
    if (obj(params, "CapacityRebalance"))
        set_int("capacity_rebalance", g->name, cJSON_IsTrue(obj(params, "CapacityRebalance")));
    instances_poke();
    return DSS_OK;
}

/* SetDesiredCapacity: AutoScalingGroupName, DesiredCapacity, HonorCooldown. */
static int set_desired(struct dss_call *call, const cJSON *params, struct group *g, cJSON **result)
{
    (void)result;
    int64_t desired;
    if (dss_param_int(params, "DesiredCapacity", &desired) != 0)
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at "
                        "'desiredCapacity' failed to satisfy constraint: Member must not be null");
    if (desired > g->max)
        return dss_fail(call, DSS_E_ValidationException, "New SetDesiredCapacity value %lld is above max value %lld "
                        "for the AutoScaling group.", (long long)desired, (long long)g->max);
    if (desired < g->min)
        return dss_fail(call, DSS_E_ValidationException, "New SetDesiredCapacity value %lld is below min value %lld "
                        "for the AutoScaling group.", (long long)desired, (long long)g->min);
    int64_t now = dss_clock_now_ms();
    if (cJSON_IsTrue(obj(params, "HonorCooldown")) && g->last_scale_ms && now < g->last_scale_ms + g->cooldown * 1000)
        return dss_fail(call, DSS_E_AsgScalingActivityInProgress, "Scaling activity is in progress and blocks this "
                        "action: the group is in its cooldown period.");
    set_int("desired", g->name, desired);
    set_int("last_scale_ms", g->name, now);
    instances_poke();
    return DSS_OK;
}

/* SetInstanceProtection: InstanceIds, AutoScalingGroupName, ProtectedFromScaleIn. */
static int set_protection(struct dss_call *call, const cJSON *params, struct group *g, cJSON **result)
{
    const cJSON *ids = obj(params, "InstanceIds"), *v;
    const cJSON *p = obj(params, "ProtectedFromScaleIn");
    if (!cJSON_IsBool(p))
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at "
                        "'protectedFromScaleIn' failed to satisfy constraint: Member must not be null");
    cJSON_ArrayForEach(v, ids) {
        const char *id = cJSON_GetStringValue(v) ? v->valuestring : "";
        sqlite3_stmt *st = dss_stmt(call, "SELECT lifecycle FROM asg_instances WHERE instance_id = ? AND asg = ?");
        sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, g->name, -1, SQLITE_STATIC);
        int in = sqlite3_step(st) == SQLITE_ROW;
        /* AWS refuses a member on its way out (Terminating); a workflow that protects an
         * instance the group is already scaling in must hear so, not take a job onto it. Pending
         * is accepted: here a member becomes InService a reconcile tick after EC2 says running. */
        int leaving = in && strcmp((const char *)sqlite3_column_text(st, 0), "InService") &&
                      strcmp((const char *)sqlite3_column_text(st, 0), "Pending");
        sqlite3_reset(st);
        if (!in)
            return dss_fail(call, DSS_E_ValidationException, "The instance %s is not part of Auto Scaling group %s.",
                            id, g->name);
        if (leaving)
            return dss_fail(call, DSS_E_ValidationException,
                            "The instance %s is not in InService or EnteringStandby or Standby.", id);
    }
    cJSON_ArrayForEach(v, ids) {
        sqlite3_stmt *st = dss_stmt(call, "UPDATE asg_instances SET protected = ? WHERE instance_id = ?");
        sqlite3_bind_int(st, 1, cJSON_IsTrue(p));
        sqlite3_bind_text(st, 2, v->valuestring, -1, SQLITE_STATIC);
        sqlite3_step(st);
        sqlite3_reset(st);
    }
    *result = cJSON_CreateObject();
    return DSS_OK;
}

/* Takes member ID (lifecycle as it is now) out of group G, lowering desired capacity if DEC. */
static int terminate_member(struct dss_call *call, struct group *g, const char *id, const char *lifecycle, int dec,
                            cJSON **result)
{
    if (dec && g->desired <= g->min)
        return dss_fail(call, DSS_E_ValidationException, "Currently, desiredCapacity (%lld) equals minSize (%lld). "
                        "Terminating instance without replacement will violate group's min size constraint. Either "
                        "set shouldDecrementDesiredCapacity flag to false or lower group's min size.",
                        (long long)g->desired, (long long)g->min);
    if (dec)
        set_int("desired", g->name, g->desired - 1);
    int64_t now = dss_clock_now_ms();
    char desc[128], cause[512], at[32];
    when_text(now, at);
    snprintf(desc, sizeof desc, "Terminating EC2 instance: %s", id);
    snprintf(cause, sizeof cause, dec
             ? "At %s instance %s was taken out of service in response to a user request, shrinking the capacity "
               "from %lld to %lld."
             : "At %s instance %s was taken out of service in response to a user request.",
             at, id, (long long)g->desired, (long long)g->desired - 1);
    if (strcmp(lifecycle, "Terminating")) {
        run_sql("UPDATE asg_instances SET lifecycle = 'Terminating' WHERE instance_id = ?", id, NULL);
        ec2_terminate_instance(id, NULL, NULL);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "Activity", activity_add(g->name, desc, cause, "InProgress", now));
    *result = out;
    instances_poke();
    return DSS_OK;
}

/* TerminateInstanceInAutoScalingGroup: InstanceId, ShouldDecrementDesiredCapacity -> Activity. */
static int op_terminate_instance(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *id = dss_param_str(params, "InstanceId");
    const cJSON *dec = obj(params, "ShouldDecrementDesiredCapacity");
    if (!id || !cJSON_IsBool(dec))
        return dss_fail(call, DSS_E_ValidationException, "1 validation error detected: Value null at '%s' failed "
                        "to satisfy constraint: Member must not be null",
                        id ? "shouldDecrementDesiredCapacity" : "instanceId");
    sqlite3_stmt *st = dss_stmt(call, "SELECT asg, lifecycle FROM asg_instances WHERE instance_id = ?");
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    char asg[256] = "", lifecycle[32] = "";
    if (sqlite3_step(st) == SQLITE_ROW) {
        snprintf(asg, sizeof asg, "%s", col(st, 0));
        snprintf(lifecycle, sizeof lifecycle, "%s", col(st, 1));
    }
    sqlite3_reset(st);
    if (!asg[0])
        return dss_fail(call, DSS_E_ValidationException, "Instance Id not found - No managed instance found for "
                        "instance ID: %s", id);
    struct group g;
    if (group_load(asg, &g))
        return dss_fail(call, DSS_E_ValidationException, "AutoScalingGroup %s not found", asg);
    int rc = terminate_member(call, &g, id, lifecycle, cJSON_IsTrue(dec), result);
    group_cleanup(&g);
    return rc;
}

/* DeleteAutoScalingGroup: AutoScalingGroupName, ForceDelete. */
static int delete_group(struct dss_call *call, const cJSON *params, struct group *g, cJSON **result)
{
    (void)result;
    sqlite3_stmt *st = dss_stmt(call, "SELECT COUNT(*) FROM asg_instances WHERE asg = ?");
    sqlite3_bind_text(st, 1, g->name, -1, SQLITE_STATIC);
    int members = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
    sqlite3_reset(st);
    if (members && !cJSON_IsTrue(obj(params, "ForceDelete")))
        return dss_fail(call, DSS_E_AsgResourceInUse, "You cannot delete an AutoScalingGroup while there are "
                        "instances or pending Spot instance request(s) still in the group.");
    if (!members) {
        group_forget(g->name);
        return DSS_OK;
    }
    /* The reconciler terminates the members, then forgets the group. */
    set_int("deleting", g->name, 1);
    set_int("desired", g->name, 0);
    set_int("min_size", g->name, 0);
    instances_poke();
    return DSS_OK;
}

/* DescribeScalingActivities: AutoScalingGroupName, ActivityIds, MaxRecords, NextToken. */
static int op_describe_activities(struct dss_call *call, const cJSON *params, cJSON **result)
{
    const char *name = dss_param_str(params, "AutoScalingGroupName");
    const cJSON *ids = obj(params, "ActivityIds"), *v;
    int64_t max, after = 0;
    if (max_records(call, params, 100, 100, &max))
        return DSS_ERR;
    const char *tok = dss_param_str(params, "NextToken");
    if (tok) {
        char *end;
        after = strtoll(tok, &end, 10);
        if (!*tok || *end)
            return dss_fail(call, DSS_E_ValidationException, "The token is not valid.");
    }
    sqlite3_stmt *st = dss_stmt(call, "SELECT a.id, a.asg, a.description, a.cause, a.start_ms, a.end_ms, a.status, "
                                      "a.seq, g.uuid, g.region, g.desired, g.min_size, g.max_size FROM asg_activities "
                                      "a LEFT JOIN asg_groups g ON g.name = a.asg WHERE (?1 IS NULL OR a.asg = ?1) "
                                      "AND (?2 = 0 OR a.seq < ?2) ORDER BY a.seq DESC");
    if (name)
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, after);
    cJSON *out = cJSON_CreateObject();
    cJSON *list = cJSON_AddArrayToObject(out, "Activities");
    int n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int keep = !cJSON_GetArraySize(ids);
        cJSON_ArrayForEach(v, ids) keep |= cJSON_IsString(v) && !strcmp(v->valuestring, col(st, 0));
        if (!keep)
            continue;
        if (n == max) {
            char next[32];
            snprintf(next, sizeof next, "%lld", (long long)sqlite3_column_int64(st, 7) + 1);
            cJSON_AddStringToObject(out, "NextToken", next);
            break;
        }
        cJSON *a = cJSON_CreateObject();
        char arn[512];
        snprintf(arn, sizeof arn, ASG_ARN_FMT, col(st, 9), col(st, 8), col(st, 1));
        cJSON_AddStringToObject(a, "ActivityId", col(st, 0));
        cJSON_AddStringToObject(a, "AutoScalingGroupName", col(st, 1));
        cJSON_AddStringToObject(a, "AutoScalingGroupARN", arn);
        cJSON_AddStringToObject(a, "Description", col(st, 2));
        cJSON_AddStringToObject(a, "Cause", col(st, 3));
        cJSON_AddNumberToObject(a, "StartTime", (double)sqlite3_column_int64(st, 4) / 1000.0);
        if (sqlite3_column_type(st, 5) != SQLITE_NULL)
            cJSON_AddNumberToObject(a, "EndTime", (double)sqlite3_column_int64(st, 5) / 1000.0);
        cJSON_AddStringToObject(a, "StatusCode", col(st, 6));
        cJSON_AddNumberToObject(a, "Progress", !strcmp(col(st, 6), "Successful") ? 100 : 0);
        cJSON_AddStringToObject(a, "Details", "{}");
        cJSON_AddItemToArray(list, a);
        n++;
    }
    sqlite3_reset(st);
    *result = out;
    return DSS_OK;
}

GROUP_OP(op_update_group, update_group)
GROUP_OP(op_set_desired, set_desired)
GROUP_OP(op_set_protection, set_protection)
GROUP_OP(op_delete_group, delete_group)

static const struct dss_operation asg_ops[] = {
    {"CreateAutoScalingGroup", op_create_group, DSS_OP_WRITE},
    {"DescribeAutoScalingGroups", op_describe_groups, DSS_OP_READONLY},
    {"DescribeAutoScalingInstances", op_describe_instances, DSS_OP_READONLY},
    {"UpdateAutoScalingGroup", op_update_group, DSS_OP_WRITE},
    {"SetDesiredCapacity", op_set_desired, DSS_OP_WRITE},
    {"SetInstanceProtection", op_set_protection, DSS_OP_WRITE},
    {"TerminateInstanceInAutoScalingGroup", op_terminate_instance, DSS_OP_WRITE},
    {"DeleteAutoScalingGroup", op_delete_group, DSS_OP_WRITE},
    {"DescribeScalingActivities", op_describe_activities, DSS_OP_READONLY},
    {NULL, NULL, 0},
};

const struct dss_service dss_autoscaling_service = {
    .name = "autoscaling",
    .query_version = "2011-01-01",
    .query_model = "autoscaling",
    .xmlns = "http://autoscaling.amazonaws.com/doc/2011-01-01/",
    .schema_sql = schema,
    .ops = asg_ops,
};
