import Testing
@testable import EvaldAlerting
