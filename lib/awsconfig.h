/* awsconfig.h -- where an AWS client finds its region, credentials and endpoints.
 *
 * The same places every AWS SDK and the AWS CLI look, so switching between dss-emulator and real
 * AWS is configuration only:
 *   profile      AWS_PROFILE, else "default"
 *   files        AWS_CONFIG_FILE (default ~/.aws/config, sections "[profile NAME]" / "[default]"),
 *                AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials, sections "[NAME]")
 *   region       AWS_REGION, AWS_DEFAULT_REGION, the profile's `region`
 *   credentials  AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the
 *                credentials file's profile, else the config file's profile
 *   endpoint     AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, the profile's `services` section
 *                entry for the service, the profile's `endpoint_url`; else the real regional
 *                endpoint https://<prefix>.<region>.amazonaws.com; AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
 *                (else the profile's ignore_configure_endpoint_urls = true) skips every configured one
 * Every resolved value remembers where it came from, so an error can name the setting to fix.
 */
#ifndef DSS_AWSCONFIG_H
#define DSS_AWSCONFIG_H

#include <stddef.h>

struct aws_config {
    char *profile;
    char *region, *region_source;
    char *access_key, *secret_key, *session_token, *credentials_source;
    char *config_file, *credentials_file;
    /* Raw settings of the profile, from both files (credentials file first). */
    struct aws_setting *settings;
    size_t nsettings;
    char *services_section; /* the profile's `services = NAME`, or NULL */
};

struct aws_setting {
    char *section;    /* "profile x", "default", "services y" (config) or "x" (credentials) */
    char *subsection; /* "sqs" for an indented block under "sqs =", else NULL */
    char *key, *value;
    int from_credentials;
};

/* Service identities for endpoint resolution. */
struct aws_service_id {
    const char *env_suffix;  /* AWS_ENDPOINT_URL_<env_suffix>: "SQS", "AUTO_SCALING" */
    const char *config_key;  /* key in a services section: "sqs", "auto_scaling" */
    const char *host_prefix; /* "sqs", "autoscaling" */
};

/* Loads everything from the environment and the files. A missing file is not an error; an
 * unreadable or malformed one is. Returns 0, or -1 with a message in err. */
int aws_config_load(struct aws_config *c, char *err, size_t errlen);
void aws_config_free(struct aws_config *c);

/* Resolves the endpoint URL for a service. *url and *source are malloc'd; source names the
 * setting that chose the URL ("AWS_ENDPOINT_URL_SQS", "profile default endpoint_url in FILE",
 * "default regional endpoint (region from AWS_REGION)"). Returns 0, or -1 if out of memory. */
int aws_config_endpoint(const struct aws_config *c, const struct aws_service_id *svc, char **url, char **source);

/* Looks up key in the profile (credentials file, then config file). Borrowed, or NULL. */
const char *aws_config_get(const struct aws_config *c, const char *key);

#endif
