package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Limits that keep a hostile document (alias bombs, deep nesting) cheap.
const (
	maxDepth  = 64
	maxSteps  = 1 << 18 // decoded nodes, aliases counted each time they are used
	maxErrors = 50      // per file set; more would only repeat themselves
)

// decoder turns yaml.Nodes into Go values strictly: every mapping key must be
// a known field, every scalar must parse as its field's type, and ${VAR}
// references in scalar values are expanded. Errors carry file and line and
// are collected, so one run reports every problem of a file.
type decoder struct {
	file    string
	getenv  func(string) (string, bool)
	errs    errorList
	pos     map[any]pos             // pointer to a decoded value → where it was written
	present map[any]map[string]bool // pointer to a decoded struct → keys that were given
	steps   int
	halted  bool                // the document hit a limit; stop decoding
	merging map[*yaml.Node]bool // mappings whose merge keys are being expanded
}

func newDecoder(getenv func(string) (string, bool)) *decoder {
	return &decoder{getenv: getenv, pos: map[any]pos{}, present: map[any]map[string]bool{}, merging: map[*yaml.Node]bool{}}
}

func (d *decoder) fail(n *yaml.Node, format string, args ...any) {
	if len(d.errs) >= maxErrors {
		return
	}
	d.errs.add(pos{d.file, n.Line}, fmt.Sprintf(format, args...), nil)
}

// step counts work and reports whether decoding may go on.
func (d *decoder) step(n *yaml.Node, cost, depth int) bool {
	if d.halted {
		return false
	}
	d.steps += cost
	if d.steps > maxSteps || depth > maxDepth {
		d.fail(n, "document too large or too deeply nested (aliases expand to too much)")
		d.halted = true
		return false
	}
	return true
}

// parseYAML parses one YAML document into its root node; nil for an empty
// document.
func parseYAML(data []byte, file string) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, yamlError(file, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, yamlError(file, err)
	default:
		return nil, &Error{File: file, Line: extra.Line, Msg: "more than one YAML document"}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		return doc.Content[0], nil
	}
	return &doc, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a parser error into an *Error with the line split out.
func yamlError(file string, err error) error {
	msg := err.Error()
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1]) // digits only, by the pattern
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return &Error{File: file, Line: line, Msg: "invalid YAML: " + msg, Err: err}
}

// deref follows aliases.
func (d *decoder) deref(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < maxDepth; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

var (
	durationType = reflect.TypeFor[Duration]()
)

// decode stores n into v, which must be addressable. size marks an integer
// field that also accepts sizes such as "10MiB".
func (d *decoder) decode(n *yaml.Node, v reflect.Value, depth int, size bool) {
	if !d.step(n, 1, depth) {
		return
	}
	n = d.deref(n)
	if n.Kind == yaml.AliasNode {
		d.fail(n, "alias nested too deeply")
		return
	}
	if v.CanAddr() {
		d.pos[v.Addr().Interface()] = pos{d.file, n.Line}
	}
	if isNull(n) {
		return
	}
	if !d.checkTag(n) {
		return
	}
	t := v.Type()
	if t == durationType {
		if s, ok := d.scalar(n, "a duration"); ok {
			dur, err := ParseDuration(s)
			if err != nil {
				d.fail(n, "%v", err)
				return
			}
			v.Set(reflect.ValueOf(dur))
		}
		return
	}
	switch t.Kind() {
	case reflect.Pointer:
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem(), depth+1, size)
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v, depth)
	case reflect.Slice:
		d.decodeSlice(n, v, depth)
	case reflect.Map:
		d.decodeMap(n, v, depth)
	case reflect.String:
		if s, ok := d.scalar(n, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, "true or false"); ok {
			switch strings.ToLower(s) {
			case "true", "yes", "on":
				v.SetBool(true)
			case "false", "no", "off":
				v.SetBool(false)
			default:
				d.fail(n, "invalid boolean %q (want true or false)", s)
			}
		}
	case reflect.Int, reflect.Int64:
		if s, ok := d.scalar(n, "an integer"); ok {
			var i int64
			var err error
			if size {
				i, err = ParseSize(s)
			} else {
				i, err = strconv.ParseInt(strings.TrimSpace(s), 10, t.Bits())
				if err != nil {
					err = &valueError{fmt.Sprintf("invalid integer %q", s)}
				}
			}
			if err == nil && v.OverflowInt(i) {
				err = &valueError{fmt.Sprintf("integer %q out of range", s)}
			}
			if err != nil {
				d.fail(n, "%v", err)
				return
			}
			v.SetInt(i)
		}
	default:
		d.fail(n, "internal: cannot decode into %s", t)
	}
}

// checkTag refuses explicit tags other than the core scalar ones.
func (d *decoder) checkTag(n *yaml.Node) bool {
	switch n.ShortTag() {
	case "!!str", "!!int", "!!bool", "!!float", "!!null", "!!timestamp", "!!map", "!!seq":
		return true
	}
	d.fail(n, "unsupported YAML tag %s", n.Tag)
	return false
}

// scalar returns the expanded text of a scalar node.
func (d *decoder) scalar(n *yaml.Node, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, "expected %s, got %s", want, kindName(n))
		return "", false
	}
	s, err := expand(n.Value, d.getenv)
	if err != nil {
		d.fail(n, "%v", err)
		return "", false
	}
	return s, true
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "an unsupported node"
}

// pair is one key/value of a mapping after merge keys were applied.
type pair struct{ key, value *yaml.Node }

// pairs returns the key/value pairs of a mapping, with "<<" merge keys
// expanded (explicit keys win, then earlier merged maps). Duplicate explicit
// keys are errors.
func (d *decoder) pairs(n *yaml.Node, depth int) []pair {
	if !d.step(n, len(n.Content)/2, depth) {
		return nil
	}
	var out []pair
	seen := map[string]*yaml.Node{}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := d.deref(n.Content[i]), n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.fail(k, "mapping key must be a scalar, got %s", kindName(k))
			continue
		}
		if k.ShortTag() == "!!merge" {
			merges = append(merges, val)
			continue
		}
		if prev, dup := seen[k.Value]; dup {
			d.fail(k, "key %q already defined at line %d", k.Value, prev.Line)
			continue
		}
		seen[k.Value] = k
		out = append(out, pair{k, val})
	}
	for _, m := range merges {
		m = d.deref(m)
		var maps []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			maps = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, e := range m.Content {
				maps = append(maps, d.deref(e))
			}
		}
		for _, mm := range maps {
			if mm.Kind != yaml.MappingNode {
				d.fail(mm, "merge key (<<) needs a mapping or a list of mappings")
				continue
			}
			if mm == n || d.merging[mm] {
				d.fail(mm, "merge key (<<) refers to the mapping that contains it")
				continue
			}
			d.merging[n] = true
			merged := d.pairs(mm, depth+1)
			delete(d.merging, n)
			for _, p := range merged {
				if _, ok := seen[p.key.Value]; ok {
					continue
				}
				seen[p.key.Value] = p.key
				out = append(out, p)
			}
		}
	}
	return out
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, depth int) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, "expected a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	fields := yamlFields(t)
	var given map[string]bool
	if v.CanAddr() {
		given = map[string]bool{}
		d.present[v.Addr().Interface()] = given
	}
	for _, p := range d.pairs(n, depth) {
		i, ok := fields[p.key.Value]
		if !ok {
			d.fail(p.key, "unknown key %q in %s (known: %s)", p.key.Value, sectionName(t), knownKeys(t))
			continue
		}
		if given != nil {
			given[p.key.Value] = true
		}
		f := t.Field(i)
		d.decode(p.value, v.Field(i), depth+1, f.Tag.Get("chantal") == "size")
		// A field is reported at its key, where a block value would otherwise
		// point at its first line.
		d.pos[v.Field(i).Addr().Interface()] = pos{d.file, p.key.Line}
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, depth int) {
	et := v.Type().Elem()
	var items []*yaml.Node
	switch {
	case n.Kind == yaml.SequenceNode:
		items = n.Content
	case n.Kind == yaml.ScalarNode && et.Kind() == reflect.String:
		items = []*yaml.Node{n} // a single string stands for a one-element list
	default:
		d.fail(n, "expected a list, got %s", kindName(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(items), len(items))
	v.Set(s)
	for i, e := range items {
		if isNull(d.deref(e)) {
			d.fail(e, "empty list element")
			continue
		}
		d.decode(e, v.Index(i), depth+1, false)
	}
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, depth int) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, "expected a mapping, got %s", kindName(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMap(t)
	for _, p := range d.pairs(n, depth) {
		val := reflect.New(t.Elem()).Elem()
		d.decode(p.value, val, depth+1, false)
		m.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(t.Key()), val)
	}
	v.Set(m)
}

// yamlFields maps the yaml key of each field of struct type t to its index.
func yamlFields(t reflect.Type) map[string]int {
	m := make(map[string]int, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = i
	}
	return m
}

func knownKeys(t reflect.Type) string {
	var keys []string
	for i := range t.NumField() {
		name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if name != "-" && name != "" {
			keys = append(keys, name)
		}
	}
	return strings.Join(keys, ", ")
}

func sectionName(t reflect.Type) string {
	switch t {
	case reflect.TypeFor[Config]():
		return "the top level"
	case reflect.TypeFor[Repository]():
		return "repository"
	}
	return strings.ToLower(t.Name())
}

// expand replaces ${NAME} and ${NAME:-default} with the environment value
// and $$ with $. A $ followed by anything else stays as it is.
func expand(s string, getenv func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", &valueError{"unterminated ${ (write $$ for a literal dollar)"}
			}
			expr := s[i+2 : i+2+end]
			name, def, hasDef := strings.Cut(expr, ":-")
			if !envNameRE.MatchString(name) {
				return "", &valueError{fmt.Sprintf("invalid variable reference ${%s} (want ${NAME} or ${NAME:-default}; $$ for a literal dollar)", expr)}
			}
			val, ok := getenv(name)
			if !ok || (hasDef && val == "") {
				if !hasDef {
					return "", &valueError{fmt.Sprintf("environment variable %s is not set (use ${%s:-default} for a fallback)", name, name)}
				}
				val = def
			}
			b.WriteString(val)
			i += 2 + end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
