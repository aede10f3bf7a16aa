package errata

import (
	"math"
	"strconv"
	"strings"
)

// CVSSBaseScore computes the base score of a CVSS v3.0/v3.1 or v2 vector
// ("CVSS:3.1/AV:N/AC:L/..." or "AV:N/AC:L/Au:N/C:P/I:P/A:P"); a plain number
// is returned as is. ok is false for anything else, including CVSS v4
// vectors (their score needs the specification's lookup tables).
func CVSSBaseScore(vector string) (score float64, ok bool) {
	v := strings.TrimSpace(vector)
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		if f < 0 || f > 10 || math.IsNaN(f) {
			return 0, false
		}
		return f, true
	}
	switch {
	case strings.HasPrefix(v, "CVSS:3.0/"), strings.HasPrefix(v, "CVSS:3.1/"):
		return cvss3(v[len("CVSS:3.x/"):])
	case strings.HasPrefix(v, "CVSS:"):
		return 0, false
	case strings.HasPrefix(v, "(") && strings.HasSuffix(v, ")"):
		v = v[1 : len(v)-1]
	}
	if strings.Contains(v, "Au:") {
		return cvss2(v)
	}
	return 0, false
}

// metrics splits "K:V/K:V" into a map; later keys win.
func metrics(v string) map[string]string {
	m := make(map[string]string, 12)
	for _, part := range strings.Split(v, "/") {
		k, val, ok := strings.Cut(part, ":")
		if ok {
			m[k] = val
		}
	}
	return m
}

// pick returns the weight of m[key] in table, or ok false.
func pick(m map[string]string, key string, table map[string]float64) (float64, bool) {
	w, ok := table[m[key]]
	return w, ok
}

var (
	cvss3AV  = map[string]float64{"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2}
	cvss3AC  = map[string]float64{"L": 0.77, "H": 0.44}
	cvss3PRU = map[string]float64{"N": 0.85, "L": 0.62, "H": 0.27}
	cvss3PRC = map[string]float64{"N": 0.85, "L": 0.68, "H": 0.5}
	cvss3UI  = map[string]float64{"N": 0.85, "R": 0.62}
	cvss3CIA = map[string]float64{"H": 0.56, "L": 0.22, "N": 0}

	cvss2AV  = map[string]float64{"L": 0.395, "A": 0.646, "N": 1.0}
	cvss2AC  = map[string]float64{"H": 0.35, "M": 0.61, "L": 0.71}
	cvss2Au  = map[string]float64{"M": 0.45, "S": 0.56, "N": 0.704}
	cvss2CIA = map[string]float64{"N": 0, "P": 0.275, "C": 0.660}
)

// roundup31 is CVSS v3.1's Roundup: the smallest one-decimal number not
// below x, computed on integers to avoid floating-point surprises.
func roundup31(x float64) float64 {
	i := int64(math.Round(x * 100000))
	if i%10000 == 0 {
		return float64(i) / 100000
	}
	return float64(i/10000+1) / 10
}

func cvss3(v string) (float64, bool) {
	m := metrics(v)
	changed := m["S"] == "C"
	if m["S"] != "C" && m["S"] != "U" {
		return 0, false
	}
	prTable := cvss3PRU
	if changed {
		prTable = cvss3PRC
	}
	av, ok1 := pick(m, "AV", cvss3AV)
	ac, ok2 := pick(m, "AC", cvss3AC)
	pr, ok3 := pick(m, "PR", prTable)
	ui, ok4 := pick(m, "UI", cvss3UI)
	c, ok5 := pick(m, "C", cvss3CIA)
	i, ok6 := pick(m, "I", cvss3CIA)
	a, ok7 := pick(m, "A", cvss3CIA)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7) {
		return 0, false
	}
	iss := 1 - (1-c)*(1-i)*(1-a)
	var impact float64
	if changed {
		impact = 7.52*(iss-0.029) - 3.25*math.Pow(iss-0.02, 15)
	} else {
		impact = 6.42 * iss
	}
	if impact <= 0 {
		return 0, true
	}
	exploit := 8.22 * av * ac * pr * ui
	if changed {
		return roundup31(math.Min(1.08*(impact+exploit), 10)), true
	}
	return roundup31(math.Min(impact+exploit, 10)), true
}

func cvss2(v string) (float64, bool) {
	m := metrics(v)
	av, ok1 := pick(m, "AV", cvss2AV)
	ac, ok2 := pick(m, "AC", cvss2AC)
	au, ok3 := pick(m, "Au", cvss2Au)
	c, ok4 := pick(m, "C", cvss2CIA)
	i, ok5 := pick(m, "I", cvss2CIA)
	a, ok6 := pick(m, "A", cvss2CIA)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return 0, false
	}
	impact := 10.41 * (1 - (1-c)*(1-i)*(1-a))
	exploit := 20 * av * ac * au
	f := 1.176
	if impact == 0 {
		f = 0
	}
	base := (0.6*impact + 0.4*exploit - 1.5) * f
	return math.Round(base*10) / 10, true
}
