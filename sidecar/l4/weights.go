package l4

// Weights returns the weight of each of c's targets, in order: the split
// each connection is drawn from (meshlb explain reports it).
func (c *Config) Weights() []uint32 { return c.split.Weights() }
