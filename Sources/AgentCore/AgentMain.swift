#if canImport(Glibc)
import Glibc
#endif

/// The command line: `appconfig-agent` runs the agent; `--version` and `--help` print and exit.
public enum AgentMain {
    public static func run(arguments: [String] = CommandLine.arguments) -> Never {
        LibraryInitialisation.skipUnusedLibraryInitialisation()
        // Before any thread exists, so that all of them inherit the mask (see SignalWatcher).
        SignalWatcher.blockWatchedSignals()
        let environment = ProcessEnvironment.current()
        signal(SIGPIPE, SIG_IGN)
        switch arguments.dropFirst().first {
        case nil:
            break
        case "--version", "version":
            print("appconfig-agent \(AgentVersion.current)")
            exit(0)
        case "healthcheck":
            exit(HealthCheck.run(environment: environment))
        case "--help", "-h", "help":
            print(usage)
            exit(0)
        case let other?:
            fail("unknown argument '\(other)'; see appconfig-agent --help", status: 2)
        }

        let settings: AgentSettings
        do {
            settings = try AgentSettings.parse(environment: environment)
        } catch {
            fail("\(error)", status: 2)
        }
        do {
            let sink: any LogSink = try settings.logPath.map { path throws(SystemError) in try FileDescriptorLogSink.opening(path: path) }
                ?? FileDescriptorLogSink(fd: 2)
            Log.bootstrap(level: settings.logLevel, sink: sink)
        } catch {
            fail("cannot open LOG_PATH \(settings.logPath ?? ""): \(error)", status: 2)
        }
        if let token = settings.accessToken { Log.registerSecret(token, permanent: true) }

        let agent: Agent
        do {
            agent = try Agent(settings: settings, environment: environment)
        } catch {
            // One line on stderr; when logging goes to a file, the reason goes there too.
            if settings.logPath != nil { log.fatal("\(error)") }
            fail("\(error)", status: 2)
        }
        exit(agent.run())
    }

    static let usage = """
        usage: appconfig-agent [--version | --help | healthcheck]
        Serves AWS AppConfig configurations on http://localhost:2772. Configured by environment
        variables (HTTP_PORT, POLL_INTERVAL, LOCAL_DEVELOPMENT_DIRECTORY, ...): see the README.
        healthcheck: exit 0 when the agent on HTTP_PORT answers /ping, else 1 (container health checks).
        """

    /// One line on stderr and a non-zero exit: how every start-up error ends.
    static func fail(_ message: String, status: Int32) -> Never {
        var line = Array("appconfig-agent: \(message)\n".utf8)
        _ = line.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
        exit(status)
    }
}

public enum ProcessEnvironment {
    /// The process environment as a dictionary, without Foundation.
    public static func current() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
