/* l1k_json_parse_doc: one JSON document and nothing after it (config.json, tokenizer.json):
 * trailing text is refused naming the line, white space after the value is fine. */
#include "check.h"
#include "long1k/jsonl.h"

int main(void) {
  l1k_err err = {0};
  const char *ok = "{\"a\": 1}\n\n  ";
  cJSON *j = l1k_json_parse_doc(ok, strlen(ok), "ok.json", &err);
  CHECK(j && cJSON_IsObject(j));
  cJSON_Delete(j);
  const char *bad = "{\"a\": 1}\n}\n";
  j = l1k_json_parse_doc(bad, strlen(bad), "bad.json", &err);
  CHECK(!j && err.code == L1K_EINPUT && strstr(err.msg, "bad.json:2: text after the JSON value"));
  const char *two = "{\"a\": 1} {\"b\": 2}";
  l1k_err_clear(&err);
  CHECK(!l1k_json_parse_doc(two, strlen(two), "two.json", &err) && err.code == L1K_EINPUT);
  const char *broken = "{\"a\": \n 1,,}";
  l1k_err_clear(&err);
  CHECK(!l1k_json_parse_doc(broken, strlen(broken), "broken.json", &err) &&
        strstr(err.msg, "broken.json:2: invalid JSON"));
  CHECK_DONE();
}
