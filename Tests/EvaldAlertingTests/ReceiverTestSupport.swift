import EvaldHTTP
import EvaldTesting
import Foundation

@testable import EvaldAlerting

/// The error a delivery throws, or nil when it succeeded.
func deliveryError(_ work: () async throws(DeliveryError) -> Void) async -> DeliveryError? {
    do {
        try await work()
        return nil
    } catch {
        return error
    }
}
