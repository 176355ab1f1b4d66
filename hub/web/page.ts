// The dashboard's one HTML page: a shell the bundled app (assets/app.js) fills in. It carries no
// data and no secrets; everything comes from /ui/api/ after login.
export function dashboardPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Wattproof hub</title>
<link rel="stylesheet" href="/ui/assets/uplot.css">
<link rel="stylesheet" href="/ui/assets/app.css">
</head>
<body>
<div id="app"><p class="boot">Loading…</p></div>
<script type="module" src="/ui/assets/app.js"></script>
</body>
</html>
`;
}
