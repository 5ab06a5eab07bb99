package scenario

// Observe exposes observe to the tests.
var Observe = observe

// Inward exposes inward to the tests.
var Inward = inward
