#if canImport(Glibc)
import Glibc
#endif
import Dispatch

public enum AgentMain {
    public static func run() -> Never {
        signal(SIGPIPE, SIG_IGN)
        let store = ConfigurationStore()
        store.put(ConfigurationPayload(key: ConfigurationKey(application: "a", environment: "b", profile: "c"), content: Array("{\"x\":1}".utf8), contentType: "application/json", version: "1", versionLabel: "v1", source: .local, receivedAt: 0))
        var config = HTTPServerConfiguration(addresses: ["127.0.0.1", "::1"], port: 0)
        config.clientTimeoutSeconds = 3
        do {
            let server = try HTTPServer(configuration: config, router: Router(store: store, accessToken: nil))
            try server.start()
            log.info("listening on \(server.boundAddresses) port \(server.port)")
        } catch { log.error("\(error)"); exit(1) }
        dispatchMain()
    }
}
