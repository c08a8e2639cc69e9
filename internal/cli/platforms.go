package cli

import (
	"strings"

	"github.com/crmsync/crmsync/extractors/calltouch"
	"github.com/crmsync/crmsync/extractors/leeloo"
	"github.com/crmsync/crmsync/extractors/platform"
	"github.com/crmsync/crmsync/extractors/textrequest"
	"github.com/crmsync/crmsync/extractors/twin"
)

// platforms are the API sources crmsync knows, in the order they run, are listed and
// are documented. Adding a platform is adding its line (README, "Adding a platform").
var platforms = []platform.Platform{
	leeloo.Platform,
	textrequest.Platform,
	calltouch.Platform,
	twin.Platform,
}

// platformNames lists the platforms' names for help texts ("leeloo, textrequest").
func platformNames() string {
	names := make([]string, len(platforms))
	for i, p := range platforms {
		names[i] = p.Name
	}
	return strings.Join(names, ", ")
}
