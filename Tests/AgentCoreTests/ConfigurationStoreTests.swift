import Dispatch
import Synchronization
import Testing
@testable import AgentCore

struct ConfigurationStoreTests {
    @Test func aChangeMadeByAnObserverReachesEveryObserverAfterTheOneThatCausedIt() {
        let store = ConfigurationStore()
        // The first observer answers the first change with a second one, as the manifest controller
        // does when a new manifest drops a configuration.
        store.observe { snapshot in
            if snapshot.generation == 1 { store.put(payload("A:E:second", "2")) }
        }
        let seen = Mutex<[UInt64]>([])
        store.observe { snapshot in seen.withLock { $0.append(snapshot.generation) } }
        store.put(payload("A:E:first", "1"))
        #expect(seen.withLock { $0 } == [1, 2])
        #expect(store.snapshot().generation == 2)
    }

    @Test func racingWritersDeliverSnapshotsInGenerationOrder() {
        let store = ConfigurationStore()
        let seen = Mutex<[UInt64]>([])
        store.observe { snapshot in seen.withLock { $0.append(snapshot.generation) } }
        let writers = 4, puts = 2_000
        DispatchQueue.concurrentPerform(iterations: writers) { writer in
            for index in 0..<puts { store.put(payload("A:E:w\(writer)", "\(index)", version: "\(index)")) }
        }
        let generations = seen.withLock { $0 }
        #expect(generations.count == writers * puts)
        let outOfOrder = zip(generations, generations.dropFirst()).filter { $0 >= $1 }.count
        #expect(outOfOrder == 0)
        #expect(generations.last == UInt64(writers * puts))
    }
}
