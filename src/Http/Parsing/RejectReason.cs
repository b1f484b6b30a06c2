namespace Prefork.Http;

/// <summary>Why a request was refused. Every reason is the client's fault and has exactly one status code.</summary>
internal enum RejectReason
{
    None,
    InvalidRequestLine,
    RequestLineTooLong,
    InvalidRequestTarget,
    UnsupportedVersion,
    InvalidHeader,
    HeaderFieldTooLarge,
    TooManyHeaders,
    HeadersTooLarge,
    MissingHost,
    DuplicateHost,
    InvalidHost,
    InvalidContentLength,
    ContentLengthWithTransferEncoding,
    TransferEncodingInHttp10,
    ChunkedNotFinal,
    UnsupportedTransferCoding,
    InvalidChunk,
    IncompleteBody,
    BodyTooLarge,
    ExpectationFailed,
    RequestTimeout,
    PlainHttpOnTlsPort,
}

internal static class RejectReasons
{
    /// <summary>The one switch that maps a rejection to its status code (RFC 9110 §15, RFC 9112).</summary>
    public static int StatusCode(this RejectReason reason) => reason switch
    {
        RejectReason.RequestLineTooLong => 414,
        RejectReason.HeaderFieldTooLarge or RejectReason.TooManyHeaders or RejectReason.HeadersTooLarge => 431,
        RejectReason.UnsupportedVersion => 505,
        RejectReason.UnsupportedTransferCoding => 501,
        RejectReason.BodyTooLarge => 413,
        RejectReason.ExpectationFailed => 417,
        RejectReason.RequestTimeout => 408,
        _ => 400,
    };

    /// <summary>One line for the client and the log, saying what was wrong.</summary>
    public static string Describe(this RejectReason reason) => reason switch
    {
        RejectReason.InvalidRequestLine => "malformed request line",
        RejectReason.RequestLineTooLong => "request line too long",
        RejectReason.InvalidRequestTarget => "malformed request target",
        RejectReason.UnsupportedVersion => "only HTTP/1.x is supported",
        RejectReason.InvalidHeader => "malformed header field",
        RejectReason.HeaderFieldTooLarge => "header field too large",
        RejectReason.TooManyHeaders => "too many header fields",
        RejectReason.HeadersTooLarge => "header section too large",
        RejectReason.MissingHost => "HTTP/1.1 request without Host",
        RejectReason.DuplicateHost => "more than one Host",
        RejectReason.InvalidHost => "malformed Host",
        RejectReason.InvalidContentLength => "invalid Content-Length",
        RejectReason.ContentLengthWithTransferEncoding => "both Content-Length and Transfer-Encoding",
        RejectReason.TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 request",
        RejectReason.ChunkedNotFinal => "chunked is not the final transfer coding",
        RejectReason.UnsupportedTransferCoding => "transfer coding not implemented",
        RejectReason.InvalidChunk => "malformed chunked body",
        RejectReason.IncompleteBody => "request body ended early",
        RejectReason.BodyTooLarge => "request body too large",
        RejectReason.ExpectationFailed => "unsupported expectation",
        RejectReason.RequestTimeout => "request not received in time",
        RejectReason.PlainHttpOnTlsPort => "plain HTTP request sent to an HTTPS port",
        _ => "bad request",
    };
}
