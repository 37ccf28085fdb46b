// probe serve's routes and tokens (probe/serve/router.hpp) with recording hooks, no socket.
// Pinned: routing on the raw path (`/-/%72eload` is 404, issue 12 item 4), 405 with Allow,
// HEAD wherever GET, the `limit` query percent-decoded and bounded, the Bearer scheme in any
// case with one or more spaces (item 4), and the heartbeat token (item 10): it pushes
// heartbeats and nothing else, the deploy token still pushes them, and unset means the deploy
// token alone — each decided before any hook that changes something runs.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "probe/serve/router.hpp"

namespace probe::serve {
namespace {

Request request(const std::string& method, const std::string& target,
                const std::string& authorization = "") {
  Request r;
  r.method = method;
  r.target = target;
  const std::size_t question = target.find('?');
  r.path = target.substr(0, question);
  r.query = question == std::string::npos ? "" : target.substr(question + 1);
  r.headers.add("Host", "probe");
  if (!authorization.empty()) {
    r.headers.add("Authorization", authorization);
  }
  return r;
}

class RouterTest : public ::testing::Test {
protected:
  Router router() {
    ServerHooks hooks;
    hooks.metrics = [] { return std::make_shared<const std::string>("probe_up 1\n"); };
    hooks.ready = [] { return nlohmann::json{{"ready", false}}; };
    hooks.status = [] { return nlohmann::json{{"targets", nlohmann::json::array()}}; };
    hooks.heartbeat = [this](const std::string& name) {
      m_calls.push_back("heartbeat " + name);
      return name == "bot";
    };
    hooks.reload = [this] {
      m_calls.push_back("reload");
      return ReloadOutcome{true, "added -"};
    };
    hooks.token = [this] { return m_token; };
    hooks.heartbeat_token = [this] { return m_heartbeat_token; };
    hooks.deploys = [this](std::size_t limit) {
      m_calls.push_back("deploys " + std::to_string(limit));
      return m_deploys_answer;
    };
    hooks.record_deploy = [this](const std::string& body) {
      m_calls.push_back("record " + body);
      return std::make_pair(201, nlohmann::json{{"recorded", true}});
    };
    return Router(std::move(hooks));
  }

  // Routes and handles `r` as the server does; the status answered.
  int answer(const Request& r) {
    const RouteResult routed = route(r);
    if (!routed.route) {
      return routed.refusal.status;
    }
    return router().handle(*routed.route, r).status;
  }

  std::string m_token = "deploy-tok";
  std::string m_heartbeat_token;
  std::pair<int, std::string> m_deploys_answer{200, "{\"events\":[]}\n"};
  std::vector<std::string> m_calls;
};

TEST_F(RouterTest, RoutesOnTheRawPath) {
  EXPECT_EQ(answer(request("POST", "/-/reload", "Bearer deploy-tok")), 200);
  m_calls.clear();
  // Issue 12 item 4: the decoded form reached reload.
  EXPECT_EQ(answer(request("POST", "/-/%72eload", "Bearer deploy-tok")), 404);
  EXPECT_EQ(answer(request("POST", "/-/reload/", "Bearer deploy-tok")), 404);
  EXPECT_EQ(answer(request("POST", "/heartbeat/%62ot", "Bearer deploy-tok")), 404);
  EXPECT_EQ(answer(request("POST", "/heartbeat/Bot", "Bearer deploy-tok")), 404);
  EXPECT_EQ(answer(request("POST", "/heartbeat/", "Bearer deploy-tok")), 404);
  EXPECT_EQ(answer(request("POST", "/heartbeat/" + std::string(64, 'a'), "Bearer deploy-tok")),
            404);
  EXPECT_TRUE(m_calls.empty());
  EXPECT_EQ(answer(request("GET", "/")), 404); // no status page hook: as with status_page: false
  EXPECT_EQ(answer(request("GET", "/METRICS")), 404);
}

TEST_F(RouterTest, WrongMethodIs405WithAllow) {
  const RouteResult put = route(request("PUT", "/metrics"));
  ASSERT_FALSE(put.route);
  EXPECT_EQ(put.refusal.status, 405);
  ASSERT_EQ(put.refusal.headers.size(), 1U);
  EXPECT_EQ(put.refusal.headers[0], std::make_pair(std::string("Allow"), std::string("GET, HEAD")));
  EXPECT_EQ(route(request("GET", "/-/reload")).refusal.headers[0].second, "POST");
  EXPECT_EQ(route(request("DELETE", "/deploys")).refusal.headers[0].second, "GET, HEAD, POST");
  EXPECT_EQ(route(request("GET", "/heartbeat/bot")).refusal.status, 405);
  EXPECT_EQ(route(request("get", "/metrics")).refusal.status, 405); // methods are case-sensitive
}

TEST_F(RouterTest, HeadWorksWhereverGetDoes) {
  for (const char* path : {"/metrics", "/healthz", "/ready", "/status", "/deploys", "/"}) {
    EXPECT_TRUE(route(request("HEAD", path)).route) << path;
  }
  EXPECT_EQ(answer(request("HEAD", "/ready")), 503);
}

TEST(RouterStatusPage, GetSlashIsTheHtmlPageWithItsHeaders) {
  ServerHooks hooks;
  hooks.status_page = [] { return std::optional<std::string>("<!DOCTYPE html><p>hi</p>"); };
  const Router router(std::move(hooks));
  const RouteResult routed = route(request("GET", "/"));
  ASSERT_TRUE(routed.route);
  EXPECT_EQ(routed.route->work, Work::memory) << "the page never waits on the event store";
  const Response page = router.handle(*routed.route, request("GET", "/"));
  EXPECT_EQ(page.status, 200);
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_EQ(page.body, "<!DOCTYPE html><p>hi</p>");
  std::map<std::string, std::string> headers(page.headers.begin(), page.headers.end());
  EXPECT_EQ(headers["Cache-Control"], "no-store");
  EXPECT_EQ(headers["X-Content-Type-Options"], "nosniff");
  EXPECT_EQ(headers["Content-Security-Policy"].rfind("default-src 'none'; ", 0), 0U)
      << headers["Content-Security-Policy"];
  const RouteResult post = route(request("POST", "/"));
  ASSERT_FALSE(post.route);
  EXPECT_EQ(post.refusal.status, 405);
  EXPECT_EQ(route(request("GET", "/index.html")).refusal.status, 404);
}

TEST(RouterStatusPage, TurnedOffIs404) {
  ServerHooks hooks;
  hooks.status_page = [] { return std::optional<std::string>(); };
  const Router router(std::move(hooks));
  const RouteResult routed = route(request("GET", "/"));
  ASSERT_TRUE(routed.route);
  const Response answer = router.handle(*routed.route, request("GET", "/"));
  EXPECT_EQ(answer.status, 404);
  EXPECT_EQ(answer.body, "{\"error\":\"no such endpoint: / (status_page: false)\"}\n");
}

TEST_F(RouterTest, DeploysLimit) {
  EXPECT_EQ(answer(request("GET", "/deploys")), 200);
  EXPECT_EQ(answer(request("GET", "/deploys?limit=1000")), 200);
  EXPECT_EQ(answer(request("GET", "/deploys?x=%41&limit=%35")), 200); // percent-decoded value
  EXPECT_EQ(answer(request("GET", "/deploys?limit=1")), 200);
  EXPECT_EQ(m_calls,
            (std::vector<std::string>{"deploys 20", "deploys 1000", "deploys 5", "deploys 1"}));
  for (const char* bad :
       {"/deploys?limit=0", "/deploys?limit=1001", "/deploys?limit=5000",
        "/deploys?limit=", "/deploys?limit=-1", "/deploys?limit=1e3", "/deploys?limit=%3",
        "/deploys?limit=%zz", "/deploys?limit=1&limit=2", "/deploys?limit=99999999999999999999"}) {
    const RouteResult routed = route(request("GET", bad));
    ASSERT_FALSE(routed.route) << bad;
    EXPECT_EQ(routed.refusal.status, 400) << bad;
    EXPECT_NE(routed.refusal.body.find("\"error\""), std::string::npos) << bad;
  }
  EXPECT_EQ(route(request("GET", "/deploys?limit=5000")).refusal.body,
            "{\"error\":\"limit: a whole number from 1 to 1000\"}\n");
}

TEST_F(RouterTest, DeploysAnswerIsTheHooksStatusAndBodyAsTheyAre) {
  // The hook bounds the answer (1 MiB, two reads at once): its 503 and text go out unchanged.
  m_deploys_answer = {503, "{\"error\":\"busy\"}\n"};
  const Request r = request("GET", "/deploys?limit=3");
  const Response response = router().handle(*route(r).route, r);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.body, "{\"error\":\"busy\"}\n");
  EXPECT_EQ(response.content_type, "application/json");
}

TEST_F(RouterTest, BearerSchemeIsCaseInsensitiveWithOneOrMoreSpaces) {
  EXPECT_TRUE(Router::authorized("Bearer deploy-tok", "deploy-tok"));
  EXPECT_TRUE(Router::authorized("bearer deploy-tok", "deploy-tok")); // issue 12 item 4
  EXPECT_TRUE(Router::authorized("BEARER   deploy-tok", "deploy-tok"));
  EXPECT_FALSE(Router::authorized("Bearer\tdeploy-tok", "deploy-tok"));
  EXPECT_FALSE(Router::authorized("Bearerdeploy-tok", "deploy-tok"));
  EXPECT_FALSE(Router::authorized("Basic deploy-tok", "deploy-tok"));
  EXPECT_FALSE(Router::authorized("Bearer deploy-to", "deploy-tok"));
  EXPECT_FALSE(Router::authorized("Bearer deploy-tokx", "deploy-tok"));
  EXPECT_FALSE(Router::authorized("Bearer deploy-tok x", "deploy-tok"));
  EXPECT_FALSE(Router::authorized("Bearer ", ""));
  EXPECT_FALSE(Router::authorized("Bearer", ""));
  EXPECT_FALSE(Router::authorized("", ""));
}

TEST_F(RouterTest, MissingOrWrongTokenIs401AndRunsNothing) {
  for (const char* target : {"/-/reload", "/deploys", "/heartbeat/bot"}) {
    for (const char* authorization : {"", "Bearer nope", "Basic deploy-tok", "deploy-tok"}) {
      const Request r = request("POST", target, authorization);
      const RouteResult routed = route(r);
      ASSERT_TRUE(routed.route) << target;
      const Response response = router().handle(*routed.route, r);
      EXPECT_EQ(response.status, 401) << target << " " << authorization;
      ASSERT_EQ(response.headers.size(), 1U);
      EXPECT_EQ(response.headers[0].first, "WWW-Authenticate");
      EXPECT_EQ(response.body, "{\"error\":\"missing or wrong bearer token\"}\n");
    }
  }
  EXPECT_TRUE(m_calls.empty());
  // Two Authorization fields: refused before anything.
  Request twice = request("POST", "/-/reload", "Bearer deploy-tok");
  twice.headers.add("Authorization", "Bearer other");
  EXPECT_EQ(route(twice).refusal.status, 400);
}

TEST_F(RouterTest, NoTokenConfiguredRefusesEveryMutation) {
  m_token.clear();
  EXPECT_EQ(router()
                .handle(*route(request("POST", "/-/reload", "Bearer ")).route,
                        request("POST", "/-/reload", "Bearer "))
                .body,
            "{\"error\":\"no token configured (deploy.token)\"}\n");
  EXPECT_EQ(answer(request("POST", "/heartbeat/bot", "Bearer ")), 401);
  EXPECT_TRUE(m_calls.empty());
}

TEST_F(RouterTest, HeartbeatTokenPushesHeartbeatsOnly) {
  m_heartbeat_token = "bot-tok";
  EXPECT_EQ(answer(request("POST", "/heartbeat/bot", "Bearer bot-tok")), 200);
  EXPECT_EQ(answer(request("POST", "/deploys", "Bearer bot-tok")), 401);
  EXPECT_EQ(answer(request("POST", "/-/reload", "Bearer bot-tok")), 401);
  // The deploy token still pushes heartbeats (compatibility) and does everything else.
  EXPECT_EQ(answer(request("POST", "/heartbeat/bot", "Bearer deploy-tok")), 200);
  EXPECT_EQ(answer(request("POST", "/-/reload", "Bearer deploy-tok")), 200);
  EXPECT_EQ(m_calls, (std::vector<std::string>{"heartbeat bot", "heartbeat bot", "reload"}));
  // Only a heartbeat token: heartbeats work, nothing else does.
  m_token.clear();
  EXPECT_EQ(answer(request("POST", "/heartbeat/bot", "Bearer bot-tok")), 200);
  EXPECT_EQ(answer(request("POST", "/deploys", "Bearer bot-tok")), 401);
}

TEST_F(RouterTest, WithoutAHeartbeatTokenHeartbeatsTakeTheDeployToken) {
  EXPECT_EQ(answer(request("POST", "/heartbeat/bot", "Bearer deploy-tok")), 200);
  EXPECT_EQ(answer(request("POST", "/heartbeat/bot", "Bearer ")), 401);
  EXPECT_EQ(answer(request("POST", "/heartbeat/web", "Bearer deploy-tok")), 404);
}

TEST_F(RouterTest, AdmitDecidesFromTheHeadAlone) {
  // For Expect: 100-continue: the token is checked before the body is asked for.
  const Request head = request("POST", "/deploys", "Bearer wrong");
  EXPECT_EQ(router().admit(*route(head).route, head)->status, 401);
  const Request good = request("POST", "/deploys", "Bearer deploy-tok");
  EXPECT_FALSE(router().admit(*route(good).route, good).has_value());
  EXPECT_TRUE(m_calls.empty());
}

TEST_F(RouterTest, AHookThatThrowsIs500WithoutItsText) {
  ServerHooks hooks;
  hooks.status = []() -> nlohmann::json { throw std::runtime_error("password=hunter2"); };
  const Router throwing(std::move(hooks));
  const Response response =
      throwing.handle(*route(request("GET", "/status")).route, request("GET", "/status"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body.find("hunter2"), std::string::npos);
}

TEST_F(RouterTest, MetricsBodyIsTheSharedText) {
  const Response response =
      router().handle(*route(request("GET", "/metrics")).route, request("GET", "/metrics"));
  ASSERT_TRUE(response.shared_body);
  EXPECT_EQ(*response.shared_body, "probe_up 1\n");
  EXPECT_EQ(response.body_size(), 11U);
  EXPECT_EQ(response.content_type, "text/plain; version=0.0.4; charset=utf-8");
}

} // namespace
} // namespace probe::serve
