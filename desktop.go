//go:build desktop

package main

import "github.com/routedeck/routedeck/app/desktop"

func init() { openWindow = desktop.Run }
