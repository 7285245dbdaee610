// Command coredns is CoreDNS with only the plugins cluster DNS needs (the e2e tier's
// Corefile in hack/e2e/cluster/manifests.py): a smaller, faster build than the full
// plugin set, from the same upstream module. The plugin order comes from upstream's
// dnsserver.Directives; importing a plugin registers it.
package main

import (
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/loadbalance"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
	_ "github.com/coredns/coredns/plugin/reload"

	"github.com/coredns/coredns/coremain"
)

func main() { coremain.Run() }
