extension Array {
    /// Consecutive batches of the elements, each holding at most `maximumCount` of them and at
    /// most `budget` by `size` (a single element larger than the budget gets a batch of its
    /// own). Order is kept.
    public func batches(budget: Int, maximumCount: Int, size: (Element) -> Int) -> [[Element]] {
        var batches = [[Element]]()
        var current = [Element]()
        var total = 0
        for element in self {
            let cost = size(element)
            if !current.isEmpty && (total + cost > budget || current.count >= maximumCount) {
                batches.append(current)
                current = []
                total = 0
            }
            current.append(element)
            total += cost
        }
        if !current.isEmpty { batches.append(current) }
        return batches
    }
}
