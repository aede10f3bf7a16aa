package chantal

import (
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/rpm"
)

func defaultFormats() []formats.Format {
	return []formats.Format{rpm.New(nil)}
}
