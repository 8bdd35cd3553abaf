{
  "targets": [
    {
      "target_name": "tandem_raw",
      "sources": [
        "firmware/net/raw/module.cc",
        "firmware/net/raw/errors.cc",
        "firmware/net/raw/netns.cc",
        "firmware/net/raw/ip_socket.cc",
        "firmware/net/raw/link.cc",
        "firmware/net/raw/address.cc",
        "firmware/net/raw/alarm.cc",
        "firmware/net/raw/scheduling.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-fexceptions", "-Wall", "-Wextra"]
    }
  ]
}
