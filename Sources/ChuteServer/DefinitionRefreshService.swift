import Logging
import ServiceLifecycle

/// On a store shared by several hosts: takes up, every few seconds, the functions, topics, buses
/// and event source mappings that other hosts created, changed or deleted through their APIs.
struct DefinitionRefreshService: Service {
    let functions: FunctionManager
    let declaredFunctions: Set<String>
    let messaging: MessagingRegistry
    let mappings: MappingRegistry
    let intervalMilliseconds: Int64
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: .milliseconds(intervalMilliseconds))
                } catch {
                    return
                }
                do {
                    try await functions.refresh(declared: declaredFunctions)
                    try await messaging.refresh()
                    try await mappings.refresh(logger: logger)
                } catch {
                    logger.error("cannot read the definitions other hosts changed; trying again", metadata: ["error": "\(error)"])
                }
            }
        }
    }
}
