# sss_peers: simulated HTTP peers on libmicrohttpd (peers.c), a static library
# shared by sss-host-sim and the test suites. Include this file once, guarded
# by `if(NOT TARGET sss_peers)`, from whichever directory needs it first.
add_library(sss_peers STATIC ${CMAKE_CURRENT_LIST_DIR}/peers.c)
target_include_directories(sss_peers
  PUBLIC ${CMAKE_CURRENT_LIST_DIR}
  PRIVATE ${UTHASH_INCLUDE_DIR})
target_link_libraries(sss_peers PUBLIC PkgConfig::MHD Threads::Threads)
