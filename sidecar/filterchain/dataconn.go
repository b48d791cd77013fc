package filterchain

import (
	"errors"
	"net"
)

// errClosedByFilter ends a read that a DataFilter refused.
var errClosedByFilter = errors.New("connection closed by a network filter")

// dataConn shows each chunk read from the connection to the chain's data
// filters before its reader gets it.
type dataConn struct {
	net.Conn
	filters []DataFilter
}

func (d *dataConn) Read(p []byte) (int, error) {
	n, err := d.Conn.Read(p)
	if n > 0 {
		for _, f := range d.filters {
			if f.OnData(d.Conn, p[:n]) == Close {
				d.Conn.Close()
				return 0, errClosedByFilter
			}
		}
	}
	return n, err
}
