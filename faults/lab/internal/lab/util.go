package lab

import (
	"strconv"

	"github.com/llmslo/slo/attribution"
)

func allFeatures() []attribution.Feature { return attribution.AllFeatures() }

func ftoa(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
