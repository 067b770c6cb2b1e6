import Glibc
import Logging
import UnixSignals

/// Bounds a graceful shutdown. SIGTERM or SIGINT lets requests and attempts in flight finish, but
/// a handler may run for up to 15 minutes and a client may never finish sending its request: past
/// `grace` the host stops at once. Nothing accepted is lost by it: events still held run again
/// (a restarted host releases its leases; on a shared store they expire), mappings resume from
/// their last checkpoint, and the functions' workers end with the host.
enum ShutdownDeadline {
    static func watch(grace: Duration, logger: Logger) async {
        for await signal in await UnixSignalsSequence(trapping: .sigterm, .sigint) {
            logger.info("\(signal): stopping gracefully, at most \(grace.components.seconds) s")
            do {
                try await Task.sleep(for: grace)
            } catch {
                return  // the host stopped in time
            }
            logger.warning("graceful shutdown took longer than \(grace.components.seconds) s; stopping now (events in flight run again after a restart)")
            fflush(nil)  // every stream, then out without running other threads' cleanup
            _exit(0)
        }
    }
}
