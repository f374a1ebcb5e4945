import PostgresNIO

extension PostgresRowSequence {
    /// The integer in the first column of a one-row answer (a count, a sum, a version); 0 when
    /// there is no row or the value is NULL.
    func integer() async throws -> Int {
        var found = 0
        for try await value in decode(Int?.self) { found = value ?? 0 }
        return found
    }
}
