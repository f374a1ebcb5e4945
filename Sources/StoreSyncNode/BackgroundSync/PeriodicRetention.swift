import Logging
import StoreSyncCore
import StoreSyncLMDB

/// Applies a store's retention policy at start and then every interval, until its task is
/// cancelled. A failed pass is logged and retried at the next interval.
public struct PeriodicRetention: Sendable {
    private let store: any MessageArchive
    private let intervalSeconds: Double
    private let scheduler: any SyncScheduler
    private let logger: Logger

    public init(
        store: any MessageArchive, intervalSeconds: Double, scheduler: any SyncScheduler = SystemScheduler(),
        logger: Logger = Logger(label: "storesync.retention")
    ) {
        self.store = store
        self.intervalSeconds = intervalSeconds
        self.scheduler = scheduler
        self.logger = logger
    }

    public func run() async {
        while !Task.isCancelled {
            do {
                let report = try await store.applyRetention(now: scheduler.now())
                if report.total > 0 {
                    logger.info(
                        "retention deleted \(report.total) messages (age \(report.byAge), count \(report.byCount), size \(report.bySize))"
                    )
                }
            } catch {
                logger.error("retention pass failed: \(error)")
            }
            do {
                try await scheduler.sleep(seconds: intervalSeconds)
            } catch {
                return
            }
        }
    }
}
