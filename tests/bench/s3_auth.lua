-- s3_auth.lua: headers of a SigV4-signed S3 request with a dummy signature, shared by the S3
-- scripts. Servers that check no signature ignore them; moto wants some Authorization to serve a
-- GET from a private bucket; s3rver (run with --allow-mismatched-signatures) wants its own key
-- S3RVER and a date within 15 minutes, so the date is taken when wrk loads the script.
s3_headers = {
  ["Authorization"] = "AWS4-HMAC-SHA256 Credential=S3RVER/" .. os.date("!%Y%m%d") ..
    "/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" ..
    string.rep("0", 64),
  ["X-Amz-Date"] = os.date("!%Y%m%dT%H%M%SZ"),
  ["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD",
}
