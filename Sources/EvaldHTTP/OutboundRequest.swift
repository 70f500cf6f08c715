/// One HTTP request to send to a remote service (a judge API, an alert receiver).
public struct OutboundRequest: Sendable {
    public var url: String
    public var method: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Seconds for this one attempt, from the start of connecting to the last byte of the
    /// response body: retries are the caller's business, each with a fresh deadline.
    public var timeout: Double

    public init(url: String, method: String = "POST", headers: [(name: String, value: String)] = [], body: [UInt8], timeout: Double) {
        self.url = url
        self.method = method
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}
