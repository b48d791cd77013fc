package file

import (
	"strings"
	"time"

	"github.com/meshlb/meshlb/discovery"
	"github.com/meshlb/meshlb/internal/retryon"
)

// The per-service keys that make callers highly available.
var (
	resilienceKeys  = []string{"lb_policy", "hash_policy", "health_check", "outlier_detection", "retries", "timeout"}
	hashPolicyKeys  = []string{"header", "query", "source_ip", "terminal"}
	healthCheckKeys = []string{"path", "interval", "timeout", "healthy_threshold", "unhealthy_threshold"}
	outlierKeys     = []string{"consecutive_5xx", "interval", "base_ejection_time", "max_ejection_percent"}
	retryKeys       = []string{"on", "num_retries", "per_try_timeout"}
)

var lbPolicies = []string{string(discovery.LBRoundRobin), string(discovery.LBLeastRequest),
	string(discovery.LBRandom), string(discovery.LBRingHash), string(discovery.LBMaglev)}

// resilience decodes one of a service's resilienceKeys into r.
func (d *decoder) resilience(f field, r *discovery.Resilience) error {
	var err error
	switch f.key {
	case "lb_policy":
		var p string
		p, err = d.oneOf(f, lbPolicies...)
		r.LBPolicy = discovery.LBPolicy(p)
	case "hash_policy":
		r.HashPolicies, err = d.hashPolicies(f)
	case "health_check":
		r.HealthCheck, err = d.healthCheck(f)
	case "outlier_detection":
		r.Outlier, err = d.outlier(f)
	case "retries":
		r.Retry, err = d.retry(f)
	case "timeout":
		r.Timeout, err = d.duration(f)
	}
	return err
}

// hashPolicies decodes a list of hash policies, each with one of header,
// query and source_ip.
func (d *decoder) hashPolicies(f field) ([]discovery.HashPolicy, error) {
	items, err := d.sequence(f.value, f.path)
	if err != nil {
		return nil, err
	}
	var out []discovery.HashPolicy
	for i, item := range items {
		path := index(f.path, i)
		fs, err := d.fields(item, path)
		if err != nil {
			return nil, err
		}
		var h discovery.HashPolicy
		for _, f := range fs {
			switch f.key {
			case "header":
				h.Header, err = d.nonEmpty(f)
			case "query":
				h.Query, err = d.nonEmpty(f)
			case "source_ip":
				h.SourceIP, err = d.boolean(f)
			case "terminal":
				h.Terminal, err = d.boolean(f)
			default:
				err = d.unknown(f, hashPolicyKeys)
			}
			if err != nil {
				return nil, err
			}
		}
		if h.Header == "" && h.Query == "" && !h.SourceIP {
			return nil, d.fail(item, path, "needs one of header, query, source_ip")
		}
		out = append(out, h)
	}
	return out, nil
}

// healthCheck decodes an active health check; {} is a TCP check with the
// defaults.
func (d *decoder) healthCheck(f field) (*discovery.HealthCheck, error) {
	fs, err := d.fields(f.value, f.path)
	if err != nil {
		return nil, err
	}
	hc := &discovery.HealthCheck{}
	for _, f := range fs {
		switch f.key {
		case "path":
			hc.Path, err = d.nonEmpty(f)
			if err == nil && !strings.HasPrefix(hc.Path, "/") {
				err = d.fail(deref(f.value), f.path, "%q must start with /", clip(hc.Path))
			}
		case "interval":
			hc.Interval, err = d.duration(f)
		case "timeout":
			hc.Timeout, err = d.duration(f)
		case "healthy_threshold":
			hc.HealthyThreshold, err = d.intIn(f, 1, 100)
		case "unhealthy_threshold":
			hc.UnhealthyThreshold, err = d.intIn(f, 1, 100)
		default:
			err = d.unknown(f, healthCheckKeys)
		}
		if err != nil {
			return nil, err
		}
	}
	return hc, nil
}

// outlier decodes outlier detection; {} is Envoy's defaults.
func (d *decoder) outlier(f field) (*discovery.Outlier, error) {
	fs, err := d.fields(f.value, f.path)
	if err != nil {
		return nil, err
	}
	o := &discovery.Outlier{}
	for _, f := range fs {
		switch f.key {
		case "consecutive_5xx":
			o.Consecutive5xx, err = d.intIn(f, 1, 1000)
		case "interval":
			o.Interval, err = d.duration(f)
		case "base_ejection_time":
			o.BaseEjectionTime, err = d.duration(f)
		case "max_ejection_percent":
			o.MaxEjectionPercent, err = d.intIn(f, 1, 100)
		default:
			err = d.unknown(f, outlierKeys)
		}
		if err != nil {
			return nil, err
		}
	}
	return o, nil
}

// retry decodes a retry policy: on (Envoy's retry_on conditions, a list),
// num_retries (default 1) and per_try_timeout.
func (d *decoder) retry(f field) (*discovery.Retry, error) {
	fs, err := d.fields(f.value, f.path)
	if err != nil {
		return nil, err
	}
	r := &discovery.Retry{NumRetries: 1}
	for _, f := range fs {
		switch f.key {
		case "on":
			r.On, err = d.retryOn(f)
		case "num_retries":
			r.NumRetries, err = d.intIn(f, 0, 10)
		case "per_try_timeout":
			r.PerTryTimeout, err = d.duration(f)
		default:
			err = d.unknown(f, retryKeys)
		}
		if err != nil {
			return nil, err
		}
	}
	if len(r.On) == 0 {
		return nil, d.missing(f.value, f.path, "on")
	}
	return r, nil
}

// retryOn decodes a list of Envoy retry_on conditions.
func (d *decoder) retryOn(f field) ([]string, error) {
	on, err := d.strings(f)
	if err != nil {
		return nil, err
	}
	if _, err := retryon.Parse(strings.Join(on, ",")); err != nil {
		return nil, d.fail(deref(f.value), f.path, "%v", err)
	}
	return on, nil
}

// duration decodes a positive Go duration such as 1s or 250ms.
func (d *decoder) duration(f field) (time.Duration, error) {
	s, err := d.str(f)
	if err != nil {
		return 0, err
	}
	v, perr := time.ParseDuration(s)
	if perr != nil || v <= 0 {
		return 0, d.fail(deref(f.value), f.path, "%q is not a positive duration such as 1s or 250ms", clip(s))
	}
	return v, nil
}
