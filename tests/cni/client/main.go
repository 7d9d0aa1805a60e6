// The test tier's CNI runtime: the CNI project's own libcni (what containerd, cri-o and podman's
// CNI backend call) runs a network config list for one namespace, as an orchestrator would.
//
//	client add|check|del|validate CONFLIST NETNS-PATH CONTAINER-ID [IFNAME]
//
// Plugins are looked up in $CNI_PLUGIN_DIRS (colon-separated); libcni's result cache (which CHECK
// and DEL read prevResult from) lives in $CNI_CACHE_DIR, so a test leaves nothing in /var/lib/cni.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/containernetworking/cni/libcni"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 5 || len(os.Args) > 6 {
		fmt.Fprintln(os.Stderr, "usage: client add|check|del|validate CONFLIST NETNS-PATH CONTAINER-ID [IFNAME]")
		os.Exit(2)
	}
	verb, file, netns, id := os.Args[1], os.Args[2], os.Args[3], os.Args[4]
	ifname := "eth0"
	if len(os.Args) == 6 {
		ifname = os.Args[5]
	}
	list, err := libcni.ConfListFromFile(file)
	if err != nil {
		fail(err)
	}
	dirs := strings.Split(os.Getenv("CNI_PLUGIN_DIRS"), ":")
	cni := libcni.NewCNIConfigWithCacheDir(dirs, os.Getenv("CNI_CACHE_DIR"), nil)
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: netns, IfName: ifname}
	ctx := context.Background()
	switch verb {
	case "add":
		res, err := cni.AddNetworkList(ctx, list, rt)
		if err != nil {
			fail(err)
		}
		if err := res.Print(); err != nil {
			fail(err)
		}
	case "check":
		err = cni.CheckNetworkList(ctx, list, rt)
	case "del":
		err = cni.DelNetworkList(ctx, list, rt)
	case "validate":
		var caps []string
		caps, err = cni.ValidateNetworkList(ctx, list)
		fmt.Println(strings.Join(caps, " "))
	default:
		fmt.Fprintln(os.Stderr, "unknown verb", verb)
		os.Exit(2)
	}
	if err != nil {
		fail(err)
	}
}
