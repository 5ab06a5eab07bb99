package chaos

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// AWSError is the L7 fault at a unit's AWS edge: the AWS API answers with
// an error (by default DynamoDB's ProvisionedThroughputExceededException,
// HTTP 400) in the body shape of the API's protocol, so the SDK parses it,
// classifies it (throttling is retried with backoff) and the unit sees what
// it would see from AWS under load.
const AWSError = "aws_error"

const (
	classAWS  class      = 100 // the AWS HTTP client's round tripper
	targetAWS targetKind = 100 // "unit->aws"
)

func init() {
	registry[AWSError] = &typeSpec{name: AWSError, class: classAWS, target: targetAWS,
		doc: "answer a unit's AWS API calls with an AWS error (throttling by default) in the protocol's own error shape",
		attrs: []attrSpec{
			{name: "error", kind: kindAWSCode, def: "ProvisionedThroughputExceededException",
				doc: "AWS error code, e.g. ProvisionedThroughputExceededException, ThrottlingException, InternalServerError, SlowDown"},
			{name: "status", kind: kindStatus, def: int64(400), doc: "HTTP status, 400..599 (AWS throttles DynamoDB with 400)"},
			{name: "rate", kind: kindRate, def: 1.0, doc: "fraction of calls affected, 0..1, drawn from the seeded stream"},
			{name: "operation", kind: kindMethod, doc: "only this operation (DynamoDB/JSON APIs: the X-Amz-Target action, e.g. TransactWriteItems)"},
		}}
}

// kindAWSCode is an AWS error code: a plain word.
const kindAWSCode attrKind = kindMethod

type awsRule struct {
	id        string
	code      string
	status    int
	rate      float64
	operation string
	dec       *decider
}

func newAWSRule(id string, p params, dec *decider) *awsRule {
	return &awsRule{id: id, code: p.str("error"), status: int(p.int("status")), rate: p.float("rate"), operation: p.str("operation"), dec: dec}
}

// AWSHTTPClient returns the HTTP client unit's AWS SDK clients must use: it
// injects the aws_error faults aimed at "unit->aws" and otherwise sends
// requests on (with a 10 s timeout, so a dead endpoint never hangs a call).
func (e *Engine) AWSHTTPClient(unit string) aws.HTTPClient {
	edge := unit + "->aws"
	e.mu.Lock()
	if e.awsEdges == nil {
		e.awsEdges = map[string]bool{}
	}
	e.awsEdges[edge] = true
	e.mu.Unlock()
	return &awsClient{e: e, edge: edge, next: &http.Client{Timeout: 10 * time.Second}}
}

type awsClient struct {
	e    *Engine
	edge string
	next aws.HTTPClient
}

// Do implements aws.HTTPClient.
func (c *awsClient) Do(req *http.Request) (*http.Response, error) {
	rules := c.e.rules.Load().aws[c.edge]
	if len(rules) == 0 {
		return c.next.Do(req)
	}
	target := req.Header.Get("X-Amz-Target") // "DynamoDB_20120810.TransactWriteItems"
	op := target[strings.LastIndexByte(target, '.')+1:]
	var hit *awsRule
	for _, r := range rules {
		// One draw per matching rule, whatever the others do.
		if (r.operation != "" && r.operation != op) || !r.dec.hit(r.rate) {
			continue
		}
		if hit == nil {
			hit = r
		}
	}
	if hit == nil {
		return c.next.Do(req)
	}
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		_ = req.Body.Close()
	}
	return awsErrorResponse(req, hit), nil
}

// awsErrorResponse shapes the error as the request's protocol does: the
// JSON protocols (DynamoDB: X-Amz-Target) put "__type" in the body; S3
// answers XML; the REST-JSON APIs (SES v2) name the type in a header.
func awsErrorResponse(req *http.Request, r *awsRule) *http.Response {
	h := http.Header{}
	h.Set(InjectedHeader, r.id)
	h.Set("X-Amzn-Requestid", "chaos-"+r.id)
	var body []byte
	switch {
	case req.Header.Get("X-Amz-Target") != "":
		h.Set("Content-Type", "application/x-amz-json-1.0")
		body, _ = json.Marshal(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + r.code, "message": InjectedMessage})
		// DynamoDB signs every answer, errors too, with the CRC32 of its
		// body; the SDK checks it and logs a warning per call without it.
		h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	case isS3(req):
		h.Set("Content-Type", "application/xml")
		type s3Error struct {
			XMLName   xml.Name `xml:"Error"`
			Code      string   `xml:"Code"`
			Message   string   `xml:"Message"`
			RequestID string   `xml:"RequestId"`
		}
		b, _ := xml.Marshal(s3Error{Code: r.code, Message: InjectedMessage, RequestID: "chaos-" + r.id})
		body = append([]byte(xml.Header), b...)
	default:
		h.Set("Content-Type", "application/json")
		h.Set("X-Amzn-Errortype", r.code)
		body, _ = json.Marshal(map[string]string{"message": InjectedMessage})
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	return &http.Response{
		Status: fmt.Sprintf("%d %s", r.status, http.StatusText(r.status)), StatusCode: r.status,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: h, Body: io.NopCloser(bytes.NewReader(body)), ContentLength: int64(len(body)), Request: req,
	}
}

// isS3 tells S3's REST-XML requests from SES v2's REST-JSON ones by the
// signing scope of their Authorization header.
func isS3(req *http.Request) bool {
	return strings.Contains(req.Header.Get("Authorization"), "/s3/aws4_request") || req.Header.Get("X-Amz-Content-Sha256") != "" && !strings.Contains(req.Header.Get("Authorization"), "/ses/")
}
