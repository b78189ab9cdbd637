@testable import AgentCore

/// A request built in memory, for exercising the router without a socket.
struct TestRequest: RouteRequest {
    var method: HTTPMethod = .get
    var target: String
    var headerList: [(String, String)] = []

    init(_ method: HTTPMethod = .get, _ target: String, headers: [(String, String)] = []) {
        self.method = method
        self.target = target
        self.headerList = headers
    }

    func header(_ name: String) -> String? {
        headerList.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    func headers(named name: String) -> [String] {
        headerList.filter { $0.0.lowercased() == name.lowercased() }.map(\.1)
    }
}

func payload(_ key: String, _ content: String, contentType: String = "application/json",
             version: String = "1", label: String? = nil) -> ConfigurationPayload {
    ConfigurationPayload(key: ConfigurationKey(parsing: key)!, content: Array(content.utf8), contentType: contentType,
                         version: version, versionLabel: label, source: .local, receivedAt: 0)
}
