-- SQS ReceiveMessage followed by DeleteMessage of what it returned, over the Query protocol; each
-- HTTP request counts once, so a receive+delete pair is two requests.
dofile(os.getenv("BENCH_DIR") .. "/common.lua")
local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end
-- The handle arrives XML-escaped; these are the escapes an XML writer may use for it.
local function xml_unescape(s)
  return (s:gsub("&quot;", '"'):gsub("&apos;", "'"):gsub("&lt;", "<"):gsub("&gt;", ">"):gsub("&amp;", "&"))
end
local queue = "&Version=2012-11-05&QueueUrl=" .. urlencode(os.getenv("QUEUE_URL"))
local pending = {}
local headers = {["Content-Type"] = "application/x-www-form-urlencoded", ["X-Amz-Date"] = "20260101T000000Z",
  ["Authorization"] = "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=0"}
function request()
  local handle = table.remove(pending)
  if handle then
    return wrk.format("POST", "/", headers, "Action=DeleteMessage" .. queue .. "&ReceiptHandle=" .. urlencode(handle))
  end
  return wrk.format("POST", "/", headers, "Action=ReceiveMessage" .. queue .. "&MaxNumberOfMessages=1")
end
function response(status, headers, body)
  local handle = body and body:match("<ReceiptHandle>([^<]+)</ReceiptHandle>")
  if handle then table.insert(pending, xml_unescape(handle)) end
end
