package assets

import _ "embed"

// Icon is the application icon (PNG, 512×512), used for the desktop window;
// build/appicon.png is the same image for the Wails packager.
//
//go:embed icon.png
var Icon []byte
