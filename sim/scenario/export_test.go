package scenario

// Observe exposes observe to the tests.
var Observe = observe
