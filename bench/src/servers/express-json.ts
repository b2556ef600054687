import express from "express";
import { fixtureJson, MODEL_ID } from "../fixture";

/** The plain REST alternative: Express 5, a Map, `res.json`. */
export async function startExpressJson(port: number): Promise<void> {
  const models = new Map([[MODEL_ID, fixtureJson.model]]);
  const app = express();
  app.get("/api/v1/models/:id", (req, res) => {
    const model = models.get(req.params.id);
    if (model) res.json(model);
    else res.status(404).json({ error: { code: 404, message: "not found", status: "NOT_FOUND" } });
  });
  await new Promise<void>((resolve) => app.listen(port, "127.0.0.1", () => resolve()));
}
