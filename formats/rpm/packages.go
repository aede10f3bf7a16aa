package rpm

import "strings"

// xmlVersion is <version epoch ver rel/>.
type xmlVersion struct {
	Epoch string `xml:"epoch,attr"`
	Ver   string `xml:"ver,attr"`
	Rel   string `xml:"rel,attr"`
}

// xmlPrimary is the part of a primary <package> that Scan reads; the rest stays
// in the verbatim fragment.
type xmlPrimary struct {
	Type     string     `xml:"type,attr"`
	Name     string     `xml:"name"`
	Arch     string     `xml:"arch"`
	Version  xmlVersion `xml:"version"`
	Checksum xmlSum     `xml:"checksum"`
	Summary  string     `xml:"summary"`
	Packager string     `xml:"packager"`
	URL      string     `xml:"url"`
	Time     struct {
		File  string `xml:"file,attr"`
		Build string `xml:"build,attr"`
	} `xml:"time"`
	Size struct {
		Package   string `xml:"package,attr"`
		Installed string `xml:"installed,attr"`
		Archive   string `xml:"archive,attr"`
	} `xml:"size"`
	Location xmlLoc `xml:"location"`
	Format   struct {
		License   string `xml:"license"`
		Vendor    string `xml:"vendor"`
		Group     string `xml:"group"`
		BuildHost string `xml:"buildhost"`
		SourceRPM string `xml:"sourcerpm"`
	} `xml:"format"`
}

// xmlSecondary is a filelists or other <package pkgid name arch>.
type xmlSecondary struct {
	PkgID   string     `xml:"pkgid,attr"`
	Name    string     `xml:"name,attr"`
	Arch    string     `xml:"arch,attr"`
	Version xmlVersion `xml:"version"`
}

// pkgKey identifies a package across primary, filelists and other: its pkgid
// and its NEVRA, because upstream pkgids collide (the same checksum listed for
// two NEVRAs) and are in the repository's algorithm, not ours.
type pkgKey struct {
	pkgid, name, epoch, ver, rel, arch string
}

func epochOrZero(e string) string {
	e = strings.TrimSpace(e)
	if t := strings.TrimLeft(e, "0"); t != "" {
		return t
	}
	return "0"
}

func (p *xmlPrimary) key() pkgKey {
	return pkgKey{strings.ToLower(strings.TrimSpace(p.Checksum.Value)), strings.TrimSpace(p.Name), epochOrZero(p.Version.Epoch), p.Version.Ver, p.Version.Rel, strings.TrimSpace(p.Arch)}
}

func (p *xmlSecondary) key() pkgKey {
	return pkgKey{strings.ToLower(strings.TrimSpace(p.PkgID)), p.Name, epochOrZero(p.Version.Epoch), p.Version.Ver, p.Version.Rel, p.Arch}
}
