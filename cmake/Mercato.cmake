# Helpers that give every Mercato target the same flags and layout.
#   mercato_library(core SOURCES src/a.cpp DEPS Boost::headers)   -> target mercato_core, alias mercato::core
#   mercato_test(core_test SOURCES x_test.cpp DEPS mercato::core) -> gtest binary registered with ctest
#   mercato_executable(hello SOURCES src/main.cpp DEPS mercato::service)

set(MERCATO_WARNINGS -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast
    -Wcast-align -Woverloaded-virtual -Wimplicit-fallthrough)

function(mercato_apply_flags target)
  target_compile_options(${target} PRIVATE ${MERCATO_WARNINGS})
  if(MERCATO_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  # Boost.Asio: no deprecated interfaces, and no std::system_error churn on hot paths.
  target_compile_definitions(${target} PUBLIC BOOST_ASIO_NO_DEPRECATED BOOST_ASIO_DISABLE_BOOST_COROUTINE)
  if(MERCATO_SANITIZE)
    target_compile_options(${target} PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
    target_link_options(${target} PUBLIC -fsanitize=address,undefined)
  endif()
  if(MERCATO_TSAN)
    target_compile_options(${target} PUBLIC -fsanitize=thread -fno-omit-frame-pointer)
    target_link_options(${target} PUBLIC -fsanitize=thread)
  endif()
endfunction()

function(mercato_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(mercato_${name} ${ARG_SOURCES})
  add_library(mercato::${name} ALIAS mercato_${name})
  target_include_directories(mercato_${name} PUBLIC ${CMAKE_CURRENT_SOURCE_DIR}/include
                                             PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/src)
  target_link_libraries(mercato_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  mercato_apply_flags(mercato_${name})
endfunction()

function(mercato_executable name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  mercato_apply_flags(${name})
endfunction()

# A GoogleTest binary run by ctest. LABELS: unit (default) or component.
function(mercato_test name)
  if(NOT MERCATO_BUILD_TESTS)
    return()
  endif()
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  mercato_apply_flags(${name})
  set_target_properties(${name} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${name} --gtest_color=no)
  if(NOT ARG_LABELS)
    set(ARG_LABELS unit)
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "MERCATO_BIN_DIR=${CMAKE_RUNTIME_OUTPUT_DIRECTORY};MERCATO_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# Embeds a text file into a target as `const std::string& <FUNCTION>()` (qualified name allowed),
# regenerated when the file changes:
#   mercato_embed_text(TARGET hello FILE api/openapi.yaml FUNCTION mercato::hello::OpenApiDocument)
function(mercato_embed_text)
  cmake_parse_arguments(ARG "" "TARGET;FILE;FUNCTION" "" ${ARGN})
  get_filename_component(source ${ARG_FILE} ABSOLUTE)
  string(MAKE_C_IDENTIFIER "${ARG_FUNCTION}" ident)
  set(out ${CMAKE_CURRENT_BINARY_DIR}/embedded_${ident}.cpp)
  add_custom_command(OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DIN=${source} -DOUT=${out} -DFUNCTION=${ARG_FUNCTION}
            -P ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    DEPENDS ${source} ${PROJECT_SOURCE_DIR}/cmake/EmbedText.cmake
    COMMENT "Embedding ${ARG_FILE}")
  target_sources(${ARG_TARGET} PRIVATE ${out})
endfunction()
