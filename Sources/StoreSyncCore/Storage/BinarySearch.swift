/// The first index of `range` at which `isPast` holds, or `range.upperBound` when it never does,
/// for a predicate that is false and then true across the range (a sorted sequence's "at or past
/// the point" test): the binary search of every sorted structure of the package.
@inlinable
public func firstIndex(in range: Range<Int>, where isPast: (Int) throws -> Bool) rethrows -> Int {
    var low = range.lowerBound
    var high = range.upperBound
    while low < high {
        let middle = low + (high - low) / 2
        if try isPast(middle) {
            high = middle
        } else {
            low = middle + 1
        }
    }
    return low
}
