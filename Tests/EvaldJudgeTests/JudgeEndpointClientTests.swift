import Testing
@testable import EvaldJudge
