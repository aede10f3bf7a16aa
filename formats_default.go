package chantal

import (
	"github.com/chantal-lite/chantal/formats"
	"github.com/chantal-lite/chantal/formats/apt"
	"github.com/chantal-lite/chantal/formats/helm"
	"github.com/chantal-lite/chantal/formats/rpm"
)

func defaultFormats() []formats.Format {
	return []formats.Format{rpm.New(nil), apt.New(nil), helm.New(nil)}
}
