#if canImport(Glibc)
import Glibc
#endif

public enum AgentMain {
    public static func run() -> Never {
        log.info("starting")
        exit(0)
    }
}
