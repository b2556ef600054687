import * as grpc from "@grpc/grpc-js";
import express from "express";
import { loadModelService } from "./proto-loader";

/**
 * The hand-written alternative to our gateway: an Express route that calls
 * the registry through a raw grpc-js + proto-loader client and sends `res.json`.
 */
export async function startExpressGrpcJs(port: number, target: string): Promise<void> {
  const ModelService = loadModelService();
  const client = new ModelService(target, grpc.credentials.createInsecure()) as unknown as {
    GetModel(
      request: { id: string },
      callback: (error: grpc.ServiceError | null, response?: { model: unknown }) => void,
    ): void;
  };
  const app = express();
  app.get("/api/v1/models/:id", (req, res) => {
    client.GetModel({ id: req.params.id }, (error, response) => {
      if (error) res.status(error.code === grpc.status.NOT_FOUND ? 404 : 500).json({ error: error.details });
      else res.json(response?.model);
    });
  });
  await new Promise<void>((resolve) => app.listen(port, "127.0.0.1", () => resolve()));
}
