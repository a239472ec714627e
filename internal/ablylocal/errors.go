package ablylocal

import (
	"fmt"
	"net/http"
)

// errorInfo is Ably's ErrorInfo on the wire.
type errorInfo struct {
	Code       int    `json:"code" codec:"code"`
	StatusCode int    `json:"statusCode" codec:"statusCode"`
	Message    string `json:"message" codec:"message"`
	Href       string `json:"href,omitempty" codec:"href,omitempty"`
	ServerID   string `json:"serverId,omitempty" codec:"serverId,omitempty"`
}

func (e *errorInfo) Error() string {
	return fmt.Sprintf("%s (code %d, status %d)", e.Message, e.Code, e.StatusCode)
}

func newError(code, status int, format string, args ...any) *errorInfo {
	return &errorInfo{
		Code:       code,
		StatusCode: status,
		Message:    fmt.Sprintf(format, args...),
		Href:       fmt.Sprintf("https://help.ably.io/error/%d", code),
	}
}

// Error codes used by the server (ably-common errors.json).
const (
	codeBadRequest              = 40000
	codeInvalidParam            = 40003
	codeMessageTooLarge         = 40009
	codeInvalidClientID         = 40012
	codeInvalidMessageEncoding  = 40013
	codeInvalidMessageID        = 40031
	codeImpermissibleExtras     = 40032
	codeNoCredentials           = 40101
	codeIncompatibleClient      = 40102
	codeTimestampNotCurrent     = 40104
	codeNonceReplayed           = 40105
	codeTokenExpired            = 40142
	codeTokenUnrecognised       = 40143
	codeInvalidToken            = 40144
	codeCapability              = 40160
	codeRequiresBasicAuth       = 40162
	codeNotFound                = 40400
	codeRateLimited             = 42910
	codeInternal                = 50000
	codeResumeExpired           = 80008
	codeResumeInvalid           = 80018
	codeChannelNotResumed       = 90003
	codeConnectionClosed        = 80017
	codeMutableMessagesDisabled = 93002
	codeUnsupportedFeature      = 40000
	statusBadRequest            = http.StatusBadRequest
	statusUnauthorized          = http.StatusUnauthorized
	statusNotFound              = http.StatusNotFound
	statusTooManyRequests       = http.StatusTooManyRequests
	statusRequestTooLarge       = http.StatusRequestEntityTooLarge
	statusInternal              = http.StatusInternalServerError
	defaultMaxMessageSize       = 65536
	maxMessageIDLen             = 256 // our choice: longest client-supplied message id
	maxMessagesPerPublish       = 100 // our choice: messages in one ProtocolMessage or REST body
	maxAttachmentsPerConnection = 200 // as Ably's default channel limit per connection
	defaultMaxFrameSize         = 524288
	defaultMaxInboundRate       = 250
	defaultHistoryLimit         = 100
	maxHistoryLimit             = 1000
	defaultRewindCap            = 100
	defaultChannelCap           = 10000
	idempotencyWindowMillis     = 2 * 60 * 1000
)

func errBadRequest(format string, args ...any) *errorInfo {
	return newError(codeBadRequest, statusBadRequest, format, args...)
}

func errInvalidToken(format string, args ...any) *errorInfo {
	return newError(codeInvalidToken, statusUnauthorized, format, args...)
}

func errCapability(format string, args ...any) *errorInfo {
	return newError(codeCapability, statusUnauthorized, format, args...)
}
